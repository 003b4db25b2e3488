"""Segment-spec events into the `events` table.

The shape is the Segment Spec (identify, track, page, screen, group, alias):
camelCase fields in the payload become snake_case columns. Each input line (or
array element) is checked against the spec in SQL; lines that break it are
quarantined with their line number, the raw text and a reason. Events whose
messageId is already in the table (a client retry, a re-upload) are skipped:
they count as accepted, since the event is there, but are not written twice.

`load_events_ndjson` runs inside the caller's transaction so the collector can
land its spooled micro-batches through it and commit them with its own
bookkeeping.
"""
from __future__ import annotations

import json
from pathlib import Path

from engine.phones import e164_sql, workspace_region
from engine.ingest.common import IngestError, drop_temp, temp_name, utc_session
from engine.privacy.consent import capture_event_consents

EVENT_TYPES = ("identify", "track", "page", "screen", "group", "alias")

# snake_case column -> Segment payload key (strings)
STRING_FIELDS = {
    "message_id": "messageId",
    "type": "type",
    "event": "event",
    "name": "name",
    "user_id": "userId",
    "anonymous_id": "anonymousId",
    "previous_id": "previousId",
    "group_id": "groupId",
}
TIME_FIELDS = {"timestamp": "timestamp", "sent_at": "sentAt", "received_at": "receivedAt"}
JSON_FIELDS = {"properties": "properties", "context": "context", "traits": "traits"}

# A line the collector spooled for a call that breaks the spec: {REJECTED: reason, "call": call}.
# It is quarantined with that reason and the call as its raw text.
REJECTED = "_cdpRejected"

# Canonical names a flat file (CSV, spreadsheet) can map its columns to for an events source.
FLAT_FIELDS = {**STRING_FIELDS, **TIME_FIELDS}


class EventCounts(tuple):
    """(loaded, quarantined), with `.new` (rows written) and `.duplicates` (already present).

    loaded = new + duplicates, so rows read = loaded + quarantined always holds.
    """

    def __new__(cls, new: int, duplicates: int, quarantined: int):
        self = super().__new__(cls, (new + duplicates, quarantined))
        self.new = new
        self.duplicates = duplicates
        return self

    @property
    def loaded(self) -> int:
        return self[0]

    @property
    def quarantined(self) -> int:
        return self[1]


# Every field of an event, read by one from_json per event (DuckDB parses the text once):
# strings as VARCHAR (numbers and objects come back as their JSON text, like
# json_extract_string), objects as JSON. Keys match case-sensitively, as the spec's do.
_STRUCT = {**{key: "VARCHAR" for key in STRING_FIELDS.values()},
           **{key: "VARCHAR" for key in TIME_FIELDS.values()},
           **{key: "JSON" for key in JSON_FIELDS.values()}, REJECTED: "VARCHAR"}
_STRUCT_SQL = "'" + json.dumps(_STRUCT, separators=(",", ":")) + "'"


def _v(key: str) -> str:
    return f"NULLIF(trim(s.{key}), '')"


def _suppressed_sql(region: str) -> str:
    """People in `suppressions` are not loaded: engine.privacy hashes trimmed ids, lower-cased
    emails, and phones by the workspace's one phone rule (`region`, engine.phones)."""
    phone = e164_sql("COALESCE(json_extract_string(traits, '$.phone'), "
                     "json_extract_string(context, '$.traits.phone'))", region)
    return f"""WHEN EXISTS (SELECT 1 FROM suppressions s WHERE
        (s.id_type = 'user_id' AND s.id_hash = sha256(user_id))
        OR (s.id_type = 'anonymous_id' AND s.id_hash = sha256(anonymous_id))
        OR (s.id_type = 'email' AND s.id_hash = sha256(lower(COALESCE(
              NULLIF(trim(json_extract_string(traits, '$.email')), ''),
              NULLIF(trim(json_extract_string(context, '$.traits.email')), '')))))
        OR (s.id_type = 'phone' AND s.id_hash = sha256({phone}))
      ) THEN 'suppressed'"""


def _parsed_sql(raw_table: str, suppressed: str | None = None) -> str:
    """Events parsed from a raw table (row_number, raw) holding one JSON text per row.

    A `{"batch": [...]}` envelope (the HTTP API's batch body) is expanded into its events,
    with the envelope's sentAt and context as defaults. Each event's text is validated once
    and parsed once (from_json into a struct of every field); only a line that may be a batch
    envelope (it contains "batch") is looked at again.
    """
    return f"""
WITH lines AS (
  SELECT row_number, raw, json_valid(raw) AS ok,
         -- valid JSON text that starts with '{{' is an object; anything else is asked
         CASE WHEN NOT ok THEN false WHEN starts_with(raw, '{{') THEN true
              ELSE json_type(raw) = 'OBJECT' END AS is_object,
         CASE WHEN is_object AND contains(raw, '"batch"')
              THEN json_type(raw, '$.batch') IS NOT DISTINCT FROM 'ARRAY' ELSE false END AS is_batch
  FROM {raw_table}
  WHERE raw IS NOT NULL AND trim(raw) <> ''
), items AS (
  -- plain events
  SELECT row_number, raw, CASE WHEN ok THEN raw END AS j, is_object, 0 AS item
  FROM lines WHERE NOT is_batch
  UNION ALL
  -- batch envelopes: one row per element, envelope sentAt/context as defaults
  SELECT l.row_number, CAST(b.value AS VARCHAR) AS raw,
         CASE WHEN json_type(b.value) = 'OBJECT' THEN json_merge_patch(
             json_object('sentAt', json_extract(l.raw, '$.sentAt'),
                         'context', json_extract(l.raw, '$.context')),
             b.value) ELSE b.value END AS j,
         json_type(b.value) = 'OBJECT' AS is_object,
         CAST(b.key AS INTEGER) + 1 AS item
  FROM lines l, json_each(l.raw, '$.batch') b
  WHERE l.is_batch
), extracted AS (
  SELECT row_number, item, raw, j IS NOT NULL AS ok, is_object,
         CASE WHEN is_object THEN from_json(j, {_STRUCT_SQL}) END AS s
  FROM items
){_normalised_sql(suppressed)}"""


def _spool_parsed_sql(suppressed: str | None = None) -> str:
    """Events parsed straight from an NDJSON file of single events (parameter: its path).

    For files whose every line is one event object (the collector's spool): DuckDB's
    read_json reads the fields as typed columns in one pass, with no per-line text kept.
    `raw` is NULL, so a load that finds any line to quarantine, or an event without a
    messageId, must go through `_parsed_sql` instead (load_spool_events does).
    """
    columns = "{" + ", ".join(f"{key}: '{kind}'" for key, kind in _STRUCT.items()) + "}"
    pack = ", ".join(f"{key} := {key}" for key in _STRUCT)
    return f"""
WITH extracted AS (
  SELECT CAST(ordinality AS BIGINT) AS row_number, 0 AS item, CAST(NULL AS VARCHAR) AS raw,
         true AS ok, true AS is_object, struct_pack({pack}) AS s
  FROM read_json(?, format = 'newline_delimited', columns = {columns}) WITH ORDINALITY
){_normalised_sql(suppressed)}"""


def _normalised_sql(suppressed: str | None) -> str:
    # `suppressed`: the workspace's phone region when there are suppressions to check, else None.
    """The rest of the parse, shared: from `extracted` (row_number, item, raw, ok, is_object and
    the struct `s` of the event's fields) to snake_case columns and the reason to quarantine."""
    scalars = ",\n    ".join(
        # analytics.js puts a page's name in properties.name; older libraries send no top-level name
        f"COALESCE({_v('name')}, NULLIF(trim(json_extract_string(s.properties, '$.name')), '')) AS name"
        if col == "name" else f"{_v(key)} AS {col}"
        for col, key in {**STRING_FIELDS, **TIME_FIELDS}.items())
    columns = ", ".join(STRING_FIELDS)
    times = ",\n  ".join(f"TRY_CAST({col} AS TIMESTAMPTZ) AS {col}, {col} AS {col}_text" for col in TIME_FIELDS)
    return f""", fields AS (
  SELECT row_number, item, raw, ok, is_object,
    {scalars},
    s.properties AS properties, s.context AS context,
    COALESCE(s.traits, json_extract(s.context, '$.traits')) AS traits, s.{REJECTED} AS rejected
  FROM extracted
)
SELECT row_number, item,
  CASE WHEN rejected IS NULL THEN raw ELSE CAST(json_extract(raw, '$.call') AS VARCHAR) END AS raw,
  CASE
    WHEN NOT ok THEN 'not valid JSON'
    WHEN NOT is_object THEN 'not a JSON object'
    WHEN rejected IS NOT NULL THEN rejected
    WHEN type IS NULL THEN 'missing type'
    WHEN lower(type) NOT IN ({", ".join(f"'{t}'" for t in EVENT_TYPES)})
      THEN 'unknown type (expected identify, track, page, screen, group or alias)'
    WHEN user_id IS NULL AND anonymous_id IS NULL THEN 'userId or anonymousId required'
    WHEN lower(type) = 'track' AND event IS NULL THEN 'event required for track'
    WHEN lower(type) = 'group' AND group_id IS NULL THEN 'groupId required for group'
    WHEN lower(type) = 'alias' AND previous_id IS NULL THEN 'previousId required for alias'
    {_suppressed_sql(suppressed) if suppressed else ''}
  END AS reason,
  {columns},
  {times},
  properties, context, traits
FROM fields
"""


_EVENT_COLUMNS = ("message_id, source, type, event, name, user_id, anonymous_id, previous_id, group_id, "
                  "timestamp, sent_at, received_at, properties, context, traits, load_id")


def land_raw_events(con, raw_table: str, source: str, load_id: int | None) -> EventCounts:
    """Validate, dedupe and insert events from raw_table(row_number BIGINT, raw VARCHAR).

    Runs inside the caller's transaction; quarantines what breaks the spec.
    """
    parsed = temp_name("ev")
    try:
        with utc_session(con):  # a timestamp without a zone is UTC, whatever the machine's zone
            suppressed = (workspace_region(con) if con.execute("SELECT count(*) > 0 FROM suppressions").fetchone()[0]
                          else None)
            con.execute(f"CREATE TEMP TABLE {parsed} AS {_parsed_sql(raw_table, suppressed)}")
        return _land_parsed(con, parsed, source, load_id)
    finally:
        drop_temp(con, parsed)


def _land_parsed(con, parsed: str, source: str, load_id: int | None) -> EventCounts:
    """Quarantine, dedupe and insert the parsed events; consent signals join the ledger."""
    quarantined = con.execute(
        f"""INSERT INTO quarantine (load_id, source, row_number, raw, reason)
            SELECT ?, ?, row_number,
                   CASE WHEN reason = 'suppressed' THEN '(withheld: suppressed person)' ELSE raw END,
                   reason || CASE WHEN item > 0 THEN ' (batch item ' || item || ')' ELSE '' END
            FROM {parsed} WHERE reason IS NOT NULL ORDER BY row_number, item""",
        [load_id, source]).fetchone()[0]
    valid, without_id = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE message_id IS NULL) FROM {parsed} WHERE reason IS NULL"
    ).fetchone()
    # A missing messageId gets a stable one from the source and the raw text, so that
    # loading the same line again is recognised as a duplicate. Within the load the first
    # line wins; against the table the primary key dedupes (INSERT OR IGNORE): index
    # look-ups per new event, not a scan of every event ever loaded.
    new = con.execute(
        f"""INSERT OR IGNORE INTO events ({_EVENT_COLUMNS})
        SELECT message_id, ?, type, event, name, user_id, anonymous_id, previous_id, group_id,
               timestamp, sent_at, received_at, properties, context, traits, ?
        FROM (
          SELECT COALESCE(message_id, 'gen-' || md5(? || chr(31) || raw)) AS message_id,
                 lower(type) AS type, event, name, user_id, anonymous_id, previous_id, group_id,
                 COALESCE(timestamp, received_at, now()) AS timestamp, sent_at,
                 COALESCE(received_at, now()) AS received_at,
                 properties, context, traits, row_number, item
          FROM {parsed} WHERE reason IS NULL
        ) p
        QUALIFY row_number() OVER (PARTITION BY message_id ORDER BY row_number, item) = 1""",
        [source, load_id, source]).fetchone()[0]
    # Consent carried on the events (CMP categories, Global Privacy Control) joins the ledger,
    # read from what `events` now holds for these ids: when every valid row was new (no
    # duplicates in the load or in the table) and had its own id, that is the rows themselves.
    if new == valid and not without_id:
        capture_event_consents(con, relation=(
            f"(SELECT message_id, user_id, anonymous_id, COALESCE(timestamp, received_at, now()) AS timestamp,"
            f" context, CAST(NULL AS BIGINT) AS load_id FROM {parsed} WHERE reason IS NULL)"))
    else:
        ids = temp_name("evids")
        try:
            con.execute(f"CREATE TEMP TABLE {ids} AS SELECT DISTINCT COALESCE(message_id, "
                        f"'gen-' || md5(? || chr(31) || raw)) AS message_id FROM {parsed} WHERE reason IS NULL",
                        [source])
            capture_event_consents(con, message_ids_sql=f"SELECT message_id FROM {ids}")
        finally:
            drop_temp(con, ids)
    return EventCounts(int(new), int(valid - new), int(quarantined))


def bad_timestamps(con, raw_table: str) -> int:
    """How many events carry a timestamp that could not be read (they fall back to receivedAt)."""
    return con.execute(
        f"""SELECT count(*) FROM {raw_table}
            WHERE CASE WHEN json_valid(raw) AND json_type(raw) = 'OBJECT' THEN
                    json_extract_string(raw, '$.timestamp') IS NOT NULL
                    AND TRY_CAST(json_extract_string(raw, '$.timestamp') AS TIMESTAMPTZ) IS NULL
                  ELSE false END"""
    ).fetchone()[0]


def stage_ndjson_lines(con, path: str | Path, table: str) -> None:
    """Every line of an NDJSON file into table(row_number, raw); row_number is the line number."""
    path = Path(path)
    if not path.is_file():
        raise IngestError(f"No such file: {path}")
    con.execute(
        f"""CREATE TEMP TABLE {table} AS
            SELECT CAST(ordinality AS BIGINT) AS row_number, raw
            FROM read_csv(?, columns={{'raw': 'VARCHAR'}}, header=false, delim=chr(1), quote='',
                          escape='', auto_detect=false, strict_mode=false) WITH ORDINALITY""",
        [str(path)])


def load_events_ndjson(con, path: str | Path, source: str, load_id: int | None = None) -> EventCounts:
    """Land an NDJSON file of Segment events into `events`, inside the caller's transaction.

    Returns (loaded, quarantined); loaded counts events now present (new ones and
    messageIds already there); `.new` and `.duplicates` split it.
    """
    raw = temp_name("evraw")
    try:
        stage_ndjson_lines(con, path, raw)
        return land_raw_events(con, raw, source, load_id)
    finally:
        drop_temp(con, raw)


def load_spool_events(con, path: str | Path, source: str, load_id: int | None = None) -> EventCounts:
    """Land an NDJSON file of single Segment events (the collector's spool), in the caller's
    transaction; the same result as load_events_ndjson, faster for files that need no quarantine.

    The file is read by DuckDB's read_json as typed columns. If any line would be quarantined
    (or lacks a messageId), it is loaded line by line through load_events_ndjson instead, so a
    quarantined line keeps its text and line number.
    """
    parsed = temp_name("evspool")
    try:
        with utc_session(con):
            suppressed = (workspace_region(con) if con.execute("SELECT count(*) > 0 FROM suppressions").fetchone()[0]
                          else None)
            con.execute(f"CREATE TEMP TABLE {parsed} AS {_spool_parsed_sql(suppressed)}", [str(path)])
        odd = con.execute(f"SELECT count(*) FROM {parsed} WHERE reason IS NOT NULL OR message_id IS NULL"
                          ).fetchone()[0]
        if not odd:
            return _land_parsed(con, parsed, source, load_id)
    finally:
        drop_temp(con, parsed)
    return load_events_ndjson(con, path, source, load_id)
