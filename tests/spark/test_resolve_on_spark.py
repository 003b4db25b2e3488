"""`cdp --engine spark resolve` decides what `cdp resolve` decides on DuckDB: blocking and features on
Spark (engine/identity/planes.py), the model, chain cuts, review queue and profiles in the workspace.

Two workspaces, each copied twice and resolved once per engine from the same state: the bundled
sample (built by its seeded generator) and a small messy one (tests/engine/resolve_outcome.py).
Compared: the partition of source records into profiles, the review queue's pairs (sides sorted,
with their reason) and the keys of `cdp resolve --json`.
"""
from __future__ import annotations

import json

import pytest

from engine.backend import choose
from engine.cli.main import main
from tests.conftest import copy_workspace
from tests.engine.resolve_outcome import build_messy, outcome
from tests.spark import sessions

pytestmark = [pytest.mark.spark, pytest.mark.timeout(1800)]   # Spark on a shared 2-core machine


def _messy(folder, migrated_template):
    ws = copy_workspace(migrated_template, folder / "messy" / "cdp.duckdb")
    build_messy(ws)
    return ws.path


@pytest.fixture(scope="module", params=["sample", "messy"])
def template(request, built_sample, migrated_template, tmp_path_factory):
    if request.param == "sample":
        return built_sample()[0]
    return _messy(tmp_path_factory.mktemp("messy"), migrated_template)


@pytest.fixture(scope="module")
def resolved(template, tmp_path_factory, spark_backend):
    """{engine: (stats printed by `cdp resolve --full --json`, outcome)} from two copies of template."""
    folder = tmp_path_factory.mktemp("resolved")
    answers = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(choose._SESSIONS, choose.DEFAULT_MASTER, sessions.own_session(spark_backend))
        mp.delenv(choose.ENV, raising=False)
        mp.setenv("CDP_NO_REFRESH", "1")   # the derived refresh is the same workspace code on both
        for engine in ("duckdb", "spark"):
            ws = copy_workspace(template, folder / engine / "cdp.duckdb")
            capture = _Capture()
            with capture:
                code = main(["--workspace", str(ws.path), "--engine", engine, "resolve", "--full", "--json"])
            assert code == 0, capture.err
            answers[engine] = (json.loads(capture.out), outcome(ws))
    return answers


class _Capture:
    """stdout and stderr of one CLI run (capsys is per test; this fixture is per module)."""
    def __enter__(self):
        import contextlib
        import io

        self._out, self._err = io.StringIO(), io.StringIO()
        self._stack = contextlib.ExitStack()
        self._stack.enter_context(contextlib.redirect_stdout(self._out))
        self._stack.enter_context(contextlib.redirect_stderr(self._err))
        return self

    def __exit__(self, *exc):
        self._stack.close()
        self.out, self.err = self._out.getvalue(), self._err.getvalue()


def test_the_same_partition_of_records_into_profiles(resolved):
    (duck_stats, duck), (_, spark) = resolved["duckdb"], resolved["spark"]
    assert 0 < len(duck["partition"]) < duck_stats["records"]   # records were merged, not all
    assert spark["partition"] == duck["partition"]


def test_the_same_review_queue(resolved):
    duck, spark = resolved["duckdb"][1], resolved["spark"][1]
    assert duck["review"]
    assert spark["review"] == duck["review"]


def test_resolve_json_keys_and_counts_are_unchanged(resolved):
    duck, spark = resolved["duckdb"][0], resolved["spark"][0]
    assert sorted(spark) == sorted(duck)
    counted = ("records", "profiles", "pairs_scored", "auto_merged", "to_review", "guarded", "chain_cuts")
    assert {k: spark[k] for k in counted} == {k: duck[k] for k in counted}
    assert duck["pairs_scored"] > 0


def test_resolve_with_its_own_tables_mapped_is_refused_before_any_work(tmp_path, migrated_template, spark_backend,
                                                                      monkeypatch, capsys):
    from engine.access import system_user

    ws = copy_workspace(migrated_template, tmp_path / "ws" / "cdp.duckdb")
    build_messy(ws)
    choose.set_engine(ws, system_user(), tables={"identity_ids": {"path": str(tmp_path / "ids.parquet")}})
    monkeypatch.setitem(choose._SESSIONS, choose.DEFAULT_MASTER, sessions.own_session(spark_backend))
    monkeypatch.delenv(choose.ENV, raising=False)
    assert main(["--workspace", str(ws.path), "--engine", "spark", "resolve"]) == 1
    assert "builds identity_ids itself" in capsys.readouterr().err
    assert ws.scalar("SELECT count(*) FROM identity_runs") == 0
    assert main(["--workspace", str(ws.path), "--engine", "duckdb", "resolve"]) == 0   # control
    assert ws.scalar("SELECT count(*) FROM identity_runs") == 1
