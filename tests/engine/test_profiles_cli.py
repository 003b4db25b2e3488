import io
import json
from contextlib import redirect_stdout

import pandas as pd
import pytest

from engine.cli.main import main
from tests.engine.journey_data import FUNNEL, build


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
    assert code == 0 and json.loads(out)["headline"]["orders"] == 1
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
