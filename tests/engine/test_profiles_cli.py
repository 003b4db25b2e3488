import io
import json
from contextlib import redirect_stdout

import pandas as pd
import pytest

from engine.cli.main import main
from tests.engine.journey_data import FUNNEL, build

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py


@pytest.fixture
def ws(workspace, monkeypatch):
    build(workspace)
    monkeypatch.setenv("CDP_WORKSPACE", str(workspace.path))
    return workspace


def _run(*argv) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(list(argv))
    return code, out.getvalue()


def test_profile_commands(ws):
    code, out = _run("profile", "search", "alcie smith")
    assert code == 0 and pd.read_csv(io.StringIO(out))["profile_id"].iloc[0] == "P1"
    code, out = _run("profile", "show", "P1")
    shown = json.loads(out)
    assert code == 0 and shown["headline"]["orders"] == 1
    contact = next(r for r in shown["records"] if r["kind"] == "contact")
    assert contact["email"] == "alice.smith@example.com" and contact["file_name"] == "crm_export.csv"
    assert _run("profile", "tag", "P1", "VIP")[1].strip() == "vip"
    code, out = _run("profile", "timeline", "P1", "--type", "tag")
    assert pd.read_csv(io.StringIO(out))["title"].tolist() == ["Tagged vip"]
    assert _run("profile", "show", "nobody")[0] == 1


def test_journey_commands(ws):
    code, out = _run("journey", "funnel", *FUNNEL)
    assert code == 0 and pd.read_csv(io.StringIO(out))["people"].tolist() == [4, 4, 3, 2, 1]
    code, out = _run("journey", "funnel", *FUNNEL, "--dropoffs-at", "3")
    assert pd.read_csv(io.StringIO(out))["profile_id"].tolist() == ["P3"]
    code, out = _run("journey", "paths", "Page: Home", "--depth", "1")
    assert code == 0 and "Product Viewed" in out
    code, out = _run("journey", "attribution")
    assert pd.read_csv(io.StringIO(out))["last_touch_revenue"].sum() == 230
    code, out = _run("journey", "attribution", "--level", "campaign", "--lookback-days", "1")
    table = pd.read_csv(io.StringIO(out))
    assert code == 0 and "campaign" in table.columns
    assert table.loc[table["channel"] == "no web touch", "position_revenue"].sum() == 130
    assert _run("journey", "cohorts", "--basis", "first_order")[0] == 0
    assert _run("journey", "funnel", "Page: Home")[0] == 1          # one step: a clear error, exit 1


def test_profile_unmerge(workspace, monkeypatch, admin):
    from engine.identity import resolve
    from tests.engine.identity_helpers import add_contacts, profile_of

    monkeypatch.setenv("CDP_WORKSPACE", str(workspace.path))
    add_contacts(workspace, [dict(source="crm", source_record_id=f"c{i}", email="kim@x.io", first_name="Kim")
                             for i in range(3)])
    resolve(workspace, admin)
    pid = profile_of(workspace, "crm", "c0")
    assert profile_of(workspace, "crm", "c2") == pid
    code, out = _run("profile", "unmerge", pid, "--group", "crm:c0,crm:c1")
    assert code == 0 and json.loads(out)["groups"] == 2
    assert profile_of(workspace, "crm", "c1") == profile_of(workspace, "crm", "c0") != profile_of(workspace, "crm", "c2")
    assert _run("profile", "unmerge", pid, "--group", "crm")[0] == 1        # not SOURCE:ID
    lone = profile_of(workspace, "crm", "c2")
    assert _run("profile", "unmerge", lone)[0] == 1                          # one record: nothing to split
