"""`cdp --engine spark resolve` with the person tables mapped to Parquet: the records step runs on
Spark over the lakehouse (engine/identity/lake_records.py) and decides what `cdp resolve` decides
on the workspace holding the same rows.

One small messy workspace (tests/engine/resolve_outcome.py) with a few accented names, exported
to Parquet under tmp_path and mapped through `cdp engine set --table`, as a user would.
"""
from __future__ import annotations

import json

import pytest

from engine.backend import choose
from engine.backend.duckdb_backend import DuckDBBackend
from engine.cli.main import main
from engine.identity.lake_records import PERSON_INPUTS
from tests.conftest import copy_workspace
from tests.engine.resolve_outcome import build_messy, outcome
from tests.spark import sessions

pytestmark = [pytest.mark.spark, pytest.mark.timeout(1800)]   # Spark on a shared 2-core machine

ACCENTED = [("Zoë", "Ñúñez", "Rua São João 12"), ("José", "Müller-Lüdenscheidt", "Ørstedsvej 3"),
            ("Chloé", "D'Angelo", "1st Avenue Apt. 4")]


def _messy(path, migrated_template):
    from tests.engine.identity_helpers import add_contacts

    ws = copy_workspace(migrated_template, path)
    build_messy(ws)
    add_contacts(ws, [{"source": "crm", "source_record_id": f"accented-{i}", "first_name": first,
                       "last_name": last, "address_line1": address, "city": "São Paulo", "postcode": "SW1A 1AA",
                       "phone": "020 7946 00%02d" % i, "date_of_birth": "1980-02-%02d" % (i + 1)}
                      for i, (first, last, address) in enumerate(ACCENTED)])
    return ws


@pytest.fixture(scope="module")
def lake(tmp_path_factory, migrated_template):
    """(template workspace, {table: Parquet path}) of the messy data."""
    folder = tmp_path_factory.mktemp("lake")
    ws = _messy(folder / "template" / "cdp.duckdb", migrated_template)
    return ws, DuckDBBackend(ws).export_parquet(list(PERSON_INPUTS), folder / "parquet")


@pytest.fixture
def on_spark(monkeypatch, spark_backend):
    """Runs of `cdp --engine spark` in this test get their own session of the suite's Spark."""
    monkeypatch.setitem(choose._SESSIONS, choose.DEFAULT_MASTER, sessions.own_session(spark_backend))
    monkeypatch.delenv(choose.ENV, raising=False)
    monkeypatch.setenv("CDP_NO_REFRESH", "1")   # the derived refresh is the same workspace code on both


def _map(ws, paths) -> None:
    """`cdp engine set --spark local[2] --table contacts PATH ...`, as a user would type it."""
    tables = [arg for name, path in paths.items() for arg in ("--table", name, str(path))]
    assert main(["--workspace", str(ws.path), "engine", "set", "--spark", choose.DEFAULT_MASTER, *tables]) == 0


def _resolve(ws, engine, capsys) -> dict:
    capsys.readouterr()
    code = main(["--workspace", str(ws.path), "--engine", engine, "resolve", "--full", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def _table(ws, sql):
    return sorted(ws.query_rows(sql), key=repr)


def test_resolve_on_parquet_tables_decides_as_duckdb_on_the_workspace(lake, tmp_path, on_spark, capsys):
    template, paths = lake
    duck, spark = (copy_workspace(template.path, tmp_path / e / "cdp.duckdb") for e in ("duckdb", "spark"))
    _map(spark, paths)
    duck_stats, spark_stats = _resolve(duck, "duckdb", capsys), _resolve(spark, "spark", capsys)
    assert 0 < duck_stats["profiles"] < duck_stats["records"]
    # The records and identifiers Spark built from Parquet are the workspace's, row for row.
    for sql in ("SELECT * FROM identity_records", "SELECT * FROM identity_ids"):
        assert _table(spark, sql) == _table(duck, sql)
    assert duck.scalar("SELECT count(*) FROM identity_records WHERE n_first IN ('zoe', 'jose', 'chloe')") == 3
    assert duck.scalar("SELECT count(DISTINCT via) FROM identity_ids") >= 2   # event links too
    assert outcome(spark) == outcome(duck)
    assert outcome(duck)["review"]
    assert sorted(spark_stats) == sorted(duck_stats)
    counted = ("records", "profiles", "pairs_scored", "auto_merged", "to_review", "guarded")
    assert {k: spark_stats[k] for k in counted} == {k: duck_stats[k] for k in counted}


def test_rows_only_in_the_lakehouse_end_up_in_profiles(lake, tmp_path, on_spark, capsys):
    template, paths = lake
    ws = copy_workspace(template.path, tmp_path / "ws" / "cdp.duckdb")
    gone = [r[0] for r in ws.query_rows("SELECT source_record_id FROM contacts ORDER BY source_record_id LIMIT 40")]
    with ws.transaction() as con:
        con.execute("DELETE FROM contacts WHERE source_record_id IN (SELECT unnest(?::VARCHAR[]))", [gone])
        con.execute("DELETE FROM events")
    _map(ws, paths)
    _resolve(ws, "spark", capsys)
    members = {r[0] for r in ws.query_rows("SELECT source_record_id FROM profile_members")}
    assert set(gone) <= members
    assert {"user_id:u0", "anonymous_id:a-stranger"} <= members   # events only in Parquet
    assert ws.scalar("SELECT count(*) FROM events") == 0         # the workspace's own are read again
    assert main(["--workspace", str(ws.path), "--engine", "duckdb", "resolve", "--full"]) == 0   # control
    assert not set(gone) & {r[0] for r in ws.query_rows("SELECT source_record_id FROM profile_members")}
