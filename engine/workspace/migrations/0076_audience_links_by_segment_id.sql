-- Audience links are keyed by segment id (engine.activation.audiences.resolve_source), so a
-- segment's name, its id and the Audiences screen all address one link, and a rename keeps it.
-- Links made before were keyed by whatever was typed: a segment's name. Each such link moves
-- to its segment's id (a current name first, else a name the live segment had before a
-- rename, when exactly one segment had it), with what the destination holds, the run history
-- and the holdout group. Where an id-keyed link exists already, the two are merged: the
-- destination holds both memberships, and a schedule set on either is kept.
CREATE TEMP TABLE _link_fix AS
WITH names AS (
    SELECT lower(s.name) AS name, s.segment_id, 0 AS rank
    FROM segments s WHERE s.deleted_at IS NULL
    UNION ALL
    SELECT lower(v.name), v.segment_id, 1
    FROM segment_versions v JOIN segments s USING (segment_id) WHERE s.deleted_at IS NULL
),
best AS (SELECT name, min(rank) AS rank FROM names GROUP BY name),
unique_names AS (
    SELECT n.name, min(n.segment_id) AS segment_id
    FROM names n JOIN best b USING (name, rank)
    GROUP BY n.name HAVING count(DISTINCT n.segment_id) = 1
)
SELECT a.audience_key AS old_key, u.segment_id,
       'segment:' || u.segment_id || '->' || a.destination AS new_key
FROM activation_audiences a JOIN unique_names u ON u.name = lower(a.source_id)
WHERE a.source_kind = 'segment'
  AND a.source_id NOT IN (SELECT segment_id FROM segments);

INSERT INTO activation_audiences (audience_key, source_kind, source_id, destination, schedule,
                                  holdout_pct, created_at, created_by)
SELECT f.new_key, 'segment', f.segment_id, a.destination, a.schedule, a.holdout_pct, a.created_at, a.created_by
FROM _link_fix f JOIN activation_audiences a ON a.audience_key = f.old_key
WHERE f.new_key NOT IN (SELECT audience_key FROM activation_audiences)
QUALIFY row_number() OVER (PARTITION BY f.new_key ORDER BY a.created_at, a.audience_key) = 1;

UPDATE activation_audiences SET schedule = s.schedule
FROM (SELECT f.new_key, min(o.schedule) AS schedule
      FROM _link_fix f JOIN activation_audiences o ON o.audience_key = f.old_key
      WHERE o.schedule IN ('hourly', 'daily') GROUP BY f.new_key) s
WHERE activation_audiences.audience_key = s.new_key AND activation_audiences.schedule = 'manual';

INSERT OR IGNORE INTO activation_membership (audience_key, profile_id, member_json, run_id, synced_at)
SELECT f.new_key, m.profile_id, m.member_json, m.run_id, m.synced_at
FROM activation_membership m JOIN _link_fix f ON m.audience_key = f.old_key
QUALIFY row_number() OVER (PARTITION BY f.new_key, m.profile_id ORDER BY m.synced_at DESC) = 1;
DELETE FROM activation_membership WHERE audience_key IN (SELECT old_key FROM _link_fix);

INSERT OR IGNORE INTO activation_holdouts (source_key, profile_id, holdout_pct, first_held_at)
SELECT 'segment:' || f.segment_id, h.profile_id, h.holdout_pct, h.first_held_at
FROM activation_holdouts h
JOIN (SELECT DISTINCT a.source_id, l.segment_id FROM _link_fix l
      JOIN activation_audiences a ON a.audience_key = l.old_key) f ON h.source_key = 'segment:' || f.source_id
QUALIFY row_number() OVER (PARTITION BY f.segment_id, h.profile_id ORDER BY h.first_held_at) = 1;
DELETE FROM activation_holdouts WHERE source_key IN (
    SELECT 'segment:' || a.source_id FROM _link_fix f JOIN activation_audiences a ON a.audience_key = f.old_key);

UPDATE activation_runs SET audience_key = f.new_key
FROM _link_fix f WHERE activation_runs.audience_key = f.old_key;

DELETE FROM activation_audiences WHERE audience_key IN (SELECT old_key FROM _link_fix);
DROP TABLE _link_fix;
