"""The engine setting (`cdp engine`, `cdp --engine`): DuckDB unless turned on, checked when saved,
overridden for one run by $CDP_ENGINE. The Spark side itself is tested in tests/spark/."""
from __future__ import annotations

import json

import pytest

from engine.access import PermissionDenied
from engine.backend import choose
from engine.backend.duckdb_backend import DuckDBBackend
from engine.cli.main import main


@pytest.fixture(autouse=True)
def no_override(monkeypatch):
    monkeypatch.delenv(choose.ENV, raising=False)


def test_duckdb_is_the_default(workspace):
    assert choose.engine_settings(workspace) == {"backend": "duckdb", "spark": "local[2]", "tables": {}}
    assert isinstance(choose.backend_for(workspace), DuckDBBackend)


def test_settings_are_saved_checked_and_audited(workspace, admin, marketer):
    saved = choose.set_engine(workspace, admin, backend="spark", spark="sc://spark.internal:15002",
                              tables={"orders": {"path": "/lake/orders"}, "events": {"path": "/lake/ev", "format": "delta"}})
    assert saved == choose.engine_settings(workspace)
    assert saved["tables"]["orders"] == {"path": "/lake/orders", "format": "parquet"}
    assert choose.chosen_engine(workspace) == "spark"
    after = choose.set_engine(workspace, admin, backend="duckdb", unmap=["events"])
    assert after["tables"] == {"orders": {"path": "/lake/orders", "format": "parquet"}}
    assert after["spark"] == "sc://spark.internal:15002"          # kept when not given
    assert workspace.scalar("SELECT count(*) FROM audit_log WHERE action = 'workspace.engine'") == 2
    with pytest.raises(ValueError, match="format"):
        choose.set_engine(workspace, admin, tables={"orders": {"path": "/x", "format": "csv"}})
    with pytest.raises(ValueError, match="path"):
        choose.set_engine(workspace, admin, tables={"orders": {"format": "delta"}})
    with pytest.raises(ValueError, match="engine"):
        choose.set_engine(workspace, admin, backend="snowflake")
    with pytest.raises(PermissionDenied):
        choose.set_engine(workspace, marketer, backend="spark")
    assert choose.engine_settings(workspace) == after               # nothing half-saved


def test_the_environment_overrides_the_setting_for_one_run(workspace, admin, monkeypatch):
    choose.set_engine(workspace, admin, backend="spark")
    monkeypatch.setenv(choose.ENV, "duckdb")
    assert isinstance(choose.backend_for(workspace), DuckDBBackend)
    monkeypatch.setenv(choose.ENV, "oracle")
    with pytest.raises(ValueError, match="CDP_ENGINE"):
        choose.chosen_engine(workspace)


def test_cli_engine_set_and_show(workspace, capsys):
    path = str(workspace.path)
    assert main(["--workspace", path, "engine", "set", "--table", "orders", "/lake/orders.parquet",
                 "--table", "contacts", "crm.contacts", "table", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["tables"]["contacts"] == {"path": "crm.contacts", "format": "table"}
    assert main(["--workspace", path, "engine", "show", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == shown
    assert main(["--workspace", path, "engine", "set", "--table", "orders", "/x", "zip"]) == 1
    assert "zip" in capsys.readouterr().err


def test_the_duckdb_default_needs_no_spark_extra(workspace):
    """Without sqlglot and pyspark (the base install), the default backend still loads."""
    import subprocess
    import sys

    code = ("import sys; sys.modules['sqlglot'] = None; sys.modules['pyspark'] = None\n"
            "from engine.backend.choose import backend_for\n"
            "from engine.workspace import Workspace\n"
            f"print(backend_for(Workspace({str(workspace.path)!r})).name)\n"
            "try:\n    backend_for(Workspace(" + repr(str(workspace.path)) + "), 'spark')\n"
            "except ValueError as e:\n    print('refused:', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[0] == "duckdb"
    assert "spark extra" in out
