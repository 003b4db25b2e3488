-- What the platform reported back about each sync run (Meta: rows received, invalid rows and
-- samples; Google Data Manager: request ids and request status diagnostics), and the match rate
-- estimated before the run, so later estimates for the destination learn from the reports.
ALTER TABLE activation_runs ADD COLUMN platform_report JSON;
ALTER TABLE activation_runs ADD COLUMN expected_match_rate DOUBLE;
