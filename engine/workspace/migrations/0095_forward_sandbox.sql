-- Every workspace has a forwarding destination called `sandbox`: it needs no credentials and
-- writes what the Meta Conversions API would receive to files under the workspace folder
-- instead of sending (engine/forward/sandbox.py). It forwards nothing until an event is mapped
-- to it. A workspace that already has a forwarding destination of that name keeps it.
INSERT INTO forward_destinations (name, kind, settings, created_by)
SELECT 'sandbox', 'sandbox', '{}', 'system'
WHERE NOT EXISTS (SELECT 1 FROM forward_destinations WHERE name = 'sandbox');
