"""`cdp --engine spark` gives the DuckDB answer: segment count and members, the journey commands
and `cdp rfm` on the hand-built journeys workspace (tests/engine/journey_data.py), with some
tables mapped as a lakehouse would hold them (Parquet) and the rest read from the workspace."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from engine.access import system_user
from engine.backend import choose
from engine.backend.duckdb_backend import DuckDBBackend
from engine.cli.main import main
from engine.segments import create_segment
from engine.workspace import open_workspace
from tests.engine import journey_data
from tests.spark.canonical import rows
from tests.spark import sessions

pytestmark = [pytest.mark.spark, pytest.mark.timeout(1800)]  # a busy machine: the first case starts Spark

BUYERS = {"type": "group", "op": "all", "children": [
    {"type": "condition", "kind": "trait", "field": "country", "op": "equals", "value": "GB"}]}


@pytest.fixture(scope="module")
def lake(tmp_path_factory, spark_backend):
    """The workspace path, with orders and events mapped to Parquet copies in a lake folder."""
    ws = open_workspace(tmp_path_factory.mktemp("cli") / "cdp.duckdb")
    journey_data.build(ws)
    create_segment(ws, system_user(), "GB people", BUYERS)
    folder = tmp_path_factory.mktemp("lakehouse")
    exported = DuckDBBackend(ws).export_parquet(["orders", "events"], folder)
    choose.set_engine(ws, system_user(), spark="local[2]",
                      tables={name: {"path": str(path), "format": "parquet"} for name, path in exported.items()})
    return str(ws.path)


@pytest.fixture
def own_session(monkeypatch, spark_backend):
    """The CLI's Spark session: a fresh one on the suite's Spark context (its own temp views)."""
    monkeypatch.setitem(choose._SESSIONS, "local[2]", sessions.own_session(spark_backend))
    monkeypatch.delenv(choose.ENV, raising=False)


def _run(capsys, path, engine, *args) -> str:
    assert main(["--workspace", path, "--engine", engine, *args]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("args", [
    ["segment", "count", "GB people"],
    ["segment", "count", "GB people", "--reach"],
    ["journey", "funnel", *journey_data.FUNNEL],
    ["journey", "funnel", *journey_data.FUNNEL, "--dropoffs-at", "3"],
    ["journey", "attribution"],
    ["journey", "cohorts"],
    ["journey", "paths", "Page: Home"],
    ["journey", "paths", "Checkout Started", "--before", "--depth", "4"],
], ids=lambda a: " ".join(a))
def test_cli_on_spark_answers_as_on_duckdb(capsys, lake, own_session, args):
    on_duckdb = _run(capsys, lake, "duckdb", *args)
    on_spark = _run(capsys, lake, "spark", *args)
    assert on_duckdb.strip()
    assert on_spark == on_duckdb


def test_segment_members_on_spark_are_the_duckdb_members(capsys, lake, own_session, tmp_path):
    _run(capsys, lake, "duckdb", "segment", "members", "GB people", "--out", str(tmp_path / "d.csv"))
    _run(capsys, lake, "spark", "segment", "members", "GB people", "--out", str(tmp_path / "s.csv"))
    on_duckdb, on_spark = pd.read_csv(tmp_path / "d.csv"), pd.read_csv(tmp_path / "s.csv")
    assert len(on_duckdb) == 3
    assert rows(on_spark) == rows(on_duckdb)


def test_rfm_on_spark_reports_what_duckdb_reports(capsys, lake, own_session):
    on_duckdb = json.loads(_run(capsys, lake, "duckdb", "rfm", "--json"))
    on_spark = json.loads(_run(capsys, lake, "spark", "rfm", "--json"))
    assert on_duckdb["customers"] == 3
    assert on_spark == on_duckdb

