"""resolve on a backend's data plane (engine/identity/planes.py: OnBackend, here over DuckDB) decides
what resolve in the workspace decides: the same profiles and the same review queue, on a full run
and on an incremental one after new records arrive. tests/spark/test_resolve_on_spark.py holds
Spark to the same."""
from __future__ import annotations

import pytest

from engine.access import User
from engine.backend.duckdb_backend import DuckDBBackend
from engine.identity import planes, resolve
from tests.conftest import copy_workspace
from tests.engine.identity_generated import people, records
from tests.engine.identity_helpers import add_contacts
from tests.engine.resolve_outcome import build_messy, outcome

ADMIN = User("planes-test", "admin")


@pytest.fixture
def twins(tmp_path, migrated_template):
    """Two copies of one messy workspace: one resolved in the workspace, one on the backend plane."""
    first = copy_workspace(migrated_template, tmp_path / "a" / "cdp.duckdb")
    build_messy(first)
    second = copy_workspace(first.path, tmp_path / "b" / "cdp.duckdb")
    return first, second


def test_resolve_on_the_backend_plane_decides_as_in_the_workspace(twins):
    in_workspace, on_backend = twins
    a = resolve(in_workspace, ADMIN, full=True)
    b = resolve(on_backend, ADMIN, full=True, backend=DuckDBBackend(on_backend))
    assert sorted(a) == sorted(b)
    assert {k: a[k] for k in ("records", "profiles", "pairs_scored", "auto_merged", "to_review", "guarded")} == \
        {k: b[k] for k in ("records", "profiles", "pairs_scored", "auto_merged", "to_review", "guarded")}
    left, right = outcome(in_workspace), outcome(on_backend)
    assert 0 < len(left["partition"]) < a["records"] and left["review"]
    assert left == right


@pytest.mark.slow
def test_an_incremental_run_on_the_plane_decides_as_in_the_workspace(twins):
    for ws in twins:
        resolve(ws, ADMIN)
        add_contacts(ws, records(people(30, 8), 9, start=500))
    in_workspace, on_backend = twins
    a = resolve(in_workspace, ADMIN)
    b = resolve(on_backend, ADMIN, backend=DuckDBBackend(on_backend))
    assert a["new_records"] == b["new_records"] > 0
    assert outcome(in_workspace) == outcome(on_backend)


def test_mapped_identity_tables_are_refused_not_approximated():
    """resolve builds identity_records and identity_ids itself; mapped person tables are read."""
    from engine.backend import UnsupportedOnSpark

    class Mapped:
        name, tables = "spark", {"identity_ids": {"path": "/lake/ids", "format": "parquet"}, "orders": {}}

    with pytest.raises(UnsupportedOnSpark, match="builds identity_ids itself"):
        planes.refuse_lakehouse_records(Mapped())
    Mapped.tables = {"events": {}, "orders": {}, "journey_events": {}}
    planes.refuse_lakehouse_records(Mapped())   # control: person tables are read from the lakehouse


def test_control_a_plane_with_other_features_is_told_apart(twins, monkeypatch):
    """The comparison above can fail: a plane that loses the email agreement decides otherwise."""
    class NoEmails(planes.InWorkspace):
        def features(self):
            f = super().features()
            f["email_eq"] = f["email_eq"] * 0
            return f

    in_workspace, other = twins
    resolve(in_workspace, ADMIN, full=True)
    monkeypatch.setattr(planes, "plane_for", lambda workspace, con, backend=None: NoEmails(con))
    resolve(other, ADMIN, full=True)
    assert outcome(in_workspace) != outcome(other)


def test_features_for_answer_row_for_row_as_asked():
    """A join's rows come in any order; features_for's callers index the answer by their own rows."""
    import numpy as np
    import pandas as pd

    asked = pd.DataFrame({"l": [5, 1, 3, 1], "r": [9, 2, 4, 7]})
    joined = {"l": np.array([1, 5, 1]), "r": np.array([2, 9, 7]), "rules": np.zeros(3, dtype=np.int64),
              "first_sim": np.array([0.12, 0.59, 0.17])}   # (3, 4) missing: a record blocking left out
    got = planes.in_frame_order(asked, joined)
    assert got["l"].tolist() == [5, 1, 3, 1] and got["r"].tolist() == [9, 2, 4, 7]
    assert np.allclose(got["first_sim"][[0, 1, 3]], [0.59, 0.12, 0.17]) and np.isnan(got["first_sim"][2])
