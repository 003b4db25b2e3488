"""Where personal data lives in the workspace, and how an erasure reaches each place.

Every table of the schema is named here once, under the way erasure reaches it. A test
(tests/engine/test_privacy_registry.py) compares this registry with the migrated schema: a
new table with a column that looks personal (emails, phones, names, addresses, raw rows,
payloads, free text, person keys) fails it until it is placed here, so no new table is
silently left out of erasure.

On top of the per-table rules, erasure replaces the person's identifiers (emails, phones as
typed and in E.164, user, customer and anonymous ids) wherever they still appear in any text
or JSON column of any table with their SHA-256 (`sha256:<hex>`), so text that quotes them
(audit details, error messages, saved segment definitions) keeps its shape without them.
"""
from __future__ import annotations

import re

# Rows keyed by the source record they came from: deleted by (source, source_record_id).
BY_RECORD = ("contacts", "orders", "subscriptions", "consents", "lead_stage_changes",
             "profile_members", "identity_records", "identity_splits")

# Candidate pairs and reviewer decisions naming a record on either side.
BY_PAIR = ("identity_pairs", "identity_decisions")

# Rows of a profile: deleted by profile_id (the subject's profiles, and ids merged into them).
BY_PROFILE = ("profiles", "profile_identifiers", "profile_field_sources", "profile_scores",
              "profile_tags", "profile_notes", "profile_search_terms", "journey_events",
              "journey_profiles", "segment_static_members", "segment_event_index",
              "value_predictions", "activation_run_rows", "activation_membership",
              "activation_holdouts", "forward_queue", "privacy_recipients")

# Events and the consent signals read from them: deleted by the person's user / anonymous ids.
BY_EVENT_ACTOR = ("events", "event_consent_signals", "order_events")

# Identity's per-run identifier table: rows of the person's records, and rows holding their values.
BY_IDENTITY_RECORD = ("identity_ids",)

# Statistics keyed by a name (how common a surname is): the person's names are deleted
# (rebuilt by the next resolve without them).
BY_NAME_VALUE = ("identity_term_frequencies",)

# Free text and JSON that may quote a person: rows naming them deleted (quarantine) or their
# identifiers replaced by hashes in place (the rest).
QUOTING = ("quarantine", "audit_log", "activation_run_batches", "activation_runs", "forward_batches",
           "segment_versions", "loads", "privacy_requests", "settings")

# Erasure's own outbox: what a destination is asked to delete, kept only until it confirms.
OUTBOX = ("privacy_destination_removals",)

# Tables that hold no personal data, and why.
NOT_PERSONAL = {
    "meta": "workspace bookkeeping (data version)",
    "schema_migrations": "applied migrations",
    "sources": "source names, kinds, write keys and column mappings",
    "suppressions": "SHA-256 hashes of erased or opted-out identifiers, kept so they never return",
    "identity_models": "model parameters (match weights per field) and a trained classifier",
    "identity_runs": "run counts and timings",
    "identity_profile_registry": "profile id allocation (ids only, no data about the person)",
    "segments": "segment names and owners",
    "segment_snapshots": "segment sizes over time",
    "segment_event_index_state": "index build bookkeeping",
    "order_events_state": "the order events' watermark (load ids and a time)",
    "value_model_runs": "model fits: parameters and aggregate figures",
    "activation_destinations": "destination settings (never secrets)",
    "activation_audiences": "audience links",
    "forward_destinations": "conversion destination settings",
    "forward_mappings": "event-to-conversion mappings",
}

REGISTRY: dict[str, str] = {}
for _how, _tables in (("record", BY_RECORD), ("pair", BY_PAIR), ("profile", BY_PROFILE),
                      ("event_actor", BY_EVENT_ACTOR), ("identity_record", BY_IDENTITY_RECORD),
                      ("name_value", BY_NAME_VALUE), ("quoting", QUOTING), ("outbox", OUTBOX)):
    for _t in _tables:
        REGISTRY[_t] = _how
for _t in NOT_PERSONAL:
    REGISTRY[_t] = "not_personal"

# Column names that suggest personal data (checked by the registry test against the schema).
PII_COLUMN = re.compile(
    r"(email|phone|name|address|city|postcode|zip|birth|dob|raw|payload|member|details|traits|"
    r"properties|context|body|note|term|value|definition|response|error|user_id|anonymous_id|"
    r"customer_id|profile_id|record_id|ip|user_agent)", re.IGNORECASE)


def schema_tables(con) -> list[str]:
    """Base tables of the main schema (no views, no temporary tables)."""
    return [r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' AND NOT temporary "
        "ORDER BY table_name").fetchall()]


def text_columns(con, table: str) -> list[tuple[str, bool]]:
    """(column, is part of the primary key) for every text or JSON column of `table`."""
    keys = set()
    for (cols,) in con.execute(
            "SELECT constraint_column_names FROM duckdb_constraints() WHERE table_name = ? "
            "AND schema_name = 'main' AND constraint_type = 'PRIMARY KEY'", [table]).fetchall():
        keys.update(cols or [])
    return [(name, name in keys) for name, in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = ? AND schema_name = 'main' "
        "AND (data_type = 'VARCHAR' OR data_type = 'JSON') ORDER BY column_index", [table]).fetchall()]


def unregistered(con) -> list[str]:
    """Tables with a personal-looking column that the registry does not place (must be empty)."""
    out = []
    for table in schema_tables(con):
        if table in REGISTRY:
            continue
        cols = [r[0] for r in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = ? AND schema_name = 'main'",
            [table]).fetchall()]
        if any(PII_COLUMN.search(c) for c in cols):
            out.append(table)
    return out
