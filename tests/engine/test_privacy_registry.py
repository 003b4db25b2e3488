"""The registry of where personal data lives covers the schema: a new table with a personal-looking
column fails here until erasure is told how to reach it."""
import pytest
from engine.privacy import pii_tables as R

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py

KEY_COLUMNS = {
    "record": {"source", "source_record_id"},
    "pair": {"l_source", "l_record_id", "r_source", "r_record_id"},
    "profile": {"profile_id"},
    "event_actor": {"user_id", "anonymous_id"},
    "identity_record": {"rec_id", "id_value"},
    "name_value": {"field", "value"},
}


def _columns(con, table):
    return {r[0] for r in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = ? AND schema_name = 'main'", [table]).fetchall()}


def test_every_table_is_placed_and_every_placed_table_exists(workspace):
    with workspace.connect() as con:
        tables = set(R.schema_tables(con))
        assert R.unregistered(con) == []
        assert set(R.REGISTRY) - tables == set(), "the registry names tables the schema no longer has"
        for table, how in R.REGISTRY.items():
            assert KEY_COLUMNS.get(how, set()) <= _columns(con, table), (table, how)


def test_a_new_personal_table_fails_until_placed(workspace):
    """Control: the check finds a table it does not know."""
    with workspace.transaction() as con:
        con.execute("CREATE TABLE loyalty_cards (card_no VARCHAR, holder_email VARCHAR)")
        con.execute("CREATE TABLE dull_counters (n INTEGER)")
    with workspace.connect() as con:
        assert R.unregistered(con) == ["loyalty_cards"]
