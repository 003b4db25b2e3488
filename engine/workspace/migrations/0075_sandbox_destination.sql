-- Every workspace has a destination called `sandbox`: it needs no credentials and writes what
-- Meta Custom Audiences would receive to files under the workspace folder instead of sending
-- (engine/activation/destinations/sandbox.py), so pushes can be tried on the sample.
-- A workspace that already has a destination of that name keeps it.
INSERT INTO activation_destinations (name, kind, settings, created_by)
SELECT 'sandbox', 'sandbox', '{}', 'system'
WHERE NOT EXISTS (SELECT 1 FROM activation_destinations WHERE name = 'sandbox');
