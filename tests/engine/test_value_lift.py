"""Lift from holdout groups: exposed vs held-out people's orders in a window after the push."""
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from engine.value.lift import audience_lift, difference, verdict
from tests.engine.value_data import add_orders

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py


def test_difference_of_means_and_its_interval():
    d = difference([2.0, 4.0, 6.0, 8.0], [1.0, 1.0, 3.0, 3.0])
    assert d["lift"] == pytest.approx(3.0)
    se = np.sqrt(np.var([2, 4, 6, 8], ddof=1) / 4 + np.var([1, 1, 3, 3], ddof=1) / 4)
    assert d["low"] == pytest.approx(3.0 - 1.959964 * se) and d["high"] == pytest.approx(3.0 + 1.959964 * se)
    assert difference([1.0], [2.0, 3.0])["lift"] is None


def test_verdict_in_plain_words():
    assert verdict({"lift": 3.1, "low": 0.8, "high": 5.4}, 100, 100) == \
        "The push raised revenue: +3.10 per person, 95% CI +0.80 to +5.40."
    assert "No clear effect" in verdict({"lift": 1.0, "low": -0.5, "high": 2.5}, 100, 100)
    assert "Too early" in verdict({"lift": 1.0, "low": 0.5, "high": 2.5}, 10, 100)


def _push(workspace, exposed, held, start, source=("segment", "s1")):
    """Record a sync that sent `exposed` and held `held` out, both at `start`."""
    kind, sid = source
    key = f"{kind}:{sid}->sandbox"
    with workspace.transaction() as con:
        con.execute("INSERT INTO activation_audiences (audience_key, source_kind, source_id, destination, "
                    "holdout_pct) VALUES (?, ?, ?, 'sandbox', 50)", [key, kind, sid])
        con.execute("INSERT INTO activation_runs (run_id, audience_key, destination, mode, status) "
                    "VALUES (1, ?, 'sandbox', 'diff', 'succeeded')", [key])
        con.execute("INSERT INTO activation_run_batches (run_id, op, batch_no, rows, status, sent_at) "
                    "VALUES (1, 'add', 0, ?, 'sent', ?)", [len(exposed), start])
        for pid in exposed:
            con.execute("INSERT INTO activation_run_rows VALUES (1, 'add', 0, ?, '{}')", [pid])
        for pid in held:
            con.execute("INSERT INTO activation_holdouts (source_key, profile_id, holdout_pct, first_held_at) "
                        "VALUES (?, ?, 50, ?)", [f"{kind}:{sid}", pid, start])


def test_lift_compares_exposed_with_holdout_in_the_window(workspace, analyst):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    start = now - timedelta(days=60)
    exposed = [f"e{i}" for i in range(200)]
    held = [f"h{i}" for i in range(200)]
    day = (start + timedelta(days=3)).strftime("%Y-%m-%d %H:%M")
    late = (start + timedelta(days=40)).strftime("%Y-%m-%d %H:%M")  # after a 30-day window
    before = (start - timedelta(days=3)).strftime("%Y-%m-%d %H:%M")  # before the push
    rows = [(p, day, 10.0) for i, p in enumerate(exposed) if i % 2 == 0]
    rows += [(p, day, 10.0) for i, p in enumerate(held) if i % 4 == 0]
    rows += [(p, late, 500.0) for p in held[:50]] + [(p, before, 500.0) for p in held[50:100]]
    add_orders(workspace, rows)
    _push(workspace, exposed, held, start)
    [result] = audience_lift(workspace, analyst, window_days=30)
    assert result["source"] == "segment:s1"
    assert (result["exposed"], result["holdout"], result["waiting"]) == (200, 200, 0)
    revenue = result["revenue_per_person"]
    assert revenue["exposed"] == pytest.approx(5.0) and revenue["holdout"] == pytest.approx(2.5)
    assert revenue["low"] < 2.5 < revenue["high"]
    assert result["conversion_rate"]["lift"] == pytest.approx(0.25)
    assert result["verdict"].startswith("The push raised revenue: +2.50 per person")
    # a window that has not closed yet: everyone is still waiting
    [open_window] = audience_lift(workspace, analyst, window_days=90)
    assert open_window["waiting"] == 400 and "Too early" in open_window["verdict"]
    with pytest.raises(ValueError):
        audience_lift(workspace, analyst, window_days=0)


def test_cli_lift(workspace, capsys):
    import json

    from engine.cli.main import main

    start = datetime.now(timezone.utc) - timedelta(days=45)
    _push(workspace, [f"e{i}" for i in range(40)], [f"h{i}" for i in range(40)], start,
          source=("tag", "VIP"))
    add_orders(workspace, [(f"e{i}", (start + timedelta(days=1)).strftime("%Y-%m-%d %H:%M"), 20.0)
                           for i in range(40)])
    assert main(["--workspace", str(workspace.path), "audience", "lift", "tag:VIP", "--json"]) == 0
    [result] = json.loads(capsys.readouterr().out)
    assert result["source"] == "tag:VIP" and result["exposed"] == 40
    assert main(["--workspace", str(workspace.path), "audience", "lift", "--window-days", "30"]) == 0
    assert "tag:VIP: The push raised revenue: +20.00 per person" in capsys.readouterr().out
