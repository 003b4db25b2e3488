"""Activation: exports and destinations, diff syncs, hashing, retries.

Public API:
- export.export_audience / export_bytes: CSV or Parquet, chosen columns, hashed formats.
- config.add_destination / list_destinations / remove_destination / get_destination.
- audiences.link_audience / list_audiences / members_of / list_sources.
- sync.dry_run / sync.sync / sync.history / sync.holdout_members.
- schedule.run_due / due_audiences.
Consent and suppression are enforced inside sync and export, whatever the segment says.
"""
