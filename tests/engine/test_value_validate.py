"""Validation figures, fitting and storing predictions, thin data, and the `cdp clv` contracts."""
import json
import math
from datetime import date

import pandas as pd
import pytest

from engine.access import PermissionDenied
from engine.cli.main import main
from engine.value import DataTooThin, fit_clv, metrics, predict_clv, validate_clv
from engine.value.simulate import load_orders, simulate_orders
from engine.value.validate import by_frequency
from tests.engine.value_data import add_orders

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py


def test_metrics_on_a_tiny_known_case():
    m = metrics([0.5, 2.0, 1.0, 0.0], [1, 3, 0, 0])
    assert m["customers"] == 4
    assert m["predicted_total"] == 3.5 and m["actual_total"] == 4
    assert m["mae"] == pytest.approx((0.5 + 1 + 1 + 0) / 4)
    # ranks 2,4,3,1 vs 3,4,1.5,1.5: Pearson correlation of the ranks is sqrt(0.4)
    assert m["spearman"] == pytest.approx(math.sqrt(0.4))
    # top 10% rounds up to one customer, who made 3 of the 4 later purchases
    assert m["top_decile_capture"] == 0.75


def test_metrics_with_nothing_to_rank():
    m = metrics([1.0, 1.0], [0, 0])
    assert m["spearman"] is None and m["top_decile_capture"] is None and m["mae"] == 1.0


def test_by_frequency_groups_heavy_buyers():
    table = by_frequency([0, 0, 1, 9, 12], [0.1, 0.3, 1.0, 5.0, 7.0], [0, 1, 2, 4, 8], cap=7)
    assert table["calibration_purchases"].tolist() == ["0", "1", "7+"]
    assert table["customers"].tolist() == [2, 1, 2]
    assert table["predicted"].tolist() == pytest.approx([0.2, 1.0, 6.0])
    assert table["actual"].tolist() == pytest.approx([0.5, 2.0, 6.0])


@pytest.fixture(scope="module")
def orders():
    return simulate_orders(3000, seed=4)


@pytest.fixture
def shop(workspace, orders):
    with workspace.transaction() as con:
        load_orders(con, orders)
    return workspace


def test_validation_compares_with_what_customers_did(shop, analyst, orders):
    cal, end = date(2024, 9, 30), date(2025, 3, 31)
    result = validate_clv(shop, analyst, cal, end)
    days = orders.assign(day=orders["ordered_at"].dt.date)
    known = set(days.loc[days["day"] <= cal, "profile_id"])
    later = days[(days["day"] > cal) & (days["day"] <= end) & days["profile_id"].isin(known)]
    assert result["customers"] == len(known)
    assert result["actual_total"] == len(later[["profile_id", "day"]].drop_duplicates())
    assert result["predicted_total"] == pytest.approx(result["actual_total"], rel=0.2)
    assert result["spearman"] > 0.2 and result["top_decile_capture"] > 0.3
    assert result["mae"] < result["naive"]["mae"]
    assert sum(r["customers"] for r in result["by_frequency"]) == len(known)
    assert "run_id" not in result  # an analyst's validation is not stored


def test_fit_stores_predictions_and_keeps_history(shop, marketer, analyst):
    result = fit_clv(shop, marketer, date(2025, 1, 31), model="mbgnbd", horizon_days=180)
    assert result["status"] == "ok" and result["customers"] > 2000
    scores = shop.query_df("SELECT * FROM profile_scores")
    assert len(scores) == result["customers"]
    assert scores["p_alive"].between(0, 1).all() and (scores["predicted_clv"] >= 0).all()
    assert scores["r_score"].notna().all()  # RFM refreshed at the same date
    top = scores[scores["clv_decile"] == 1]
    assert len(top) == pytest.approx(len(scores) / 10, abs=1)
    assert top["predicted_clv"].min() >= scores.loc[scores["clv_decile"] == 2, "predicted_clv"].max()
    history = shop.query_df("SELECT * FROM value_predictions")
    assert len(history) == len(scores) and (history["as_of"] == pd.Timestamp("2025-01-31")).all()
    with pytest.raises(PermissionDenied):
        fit_clv(shop, analyst)


def test_thin_data_says_so_and_falls_back_to_rfm(workspace, marketer, analyst):
    add_orders(workspace, [("a", "2024-01-01", 10), ("a", "2024-02-01", 10), ("b", "2024-01-15", 5)])
    result = fit_clv(workspace, marketer)
    assert result["status"] == "too_thin" and "too thin" in result["message"]
    assert workspace.scalar("SELECT count(*) FROM profile_scores WHERE r_score IS NOT NULL") == 2
    with pytest.raises(DataTooThin, match="too thin"):
        validate_clv(workspace, analyst, date(2024, 1, 20))
    with pytest.raises(ValueError, match="must come after"):
        validate_clv(workspace, analyst, date(2024, 1, 20), date(2024, 1, 10))


@pytest.mark.slow
def test_cli_contracts(shop, tmp_path, capsys):
    out = tmp_path / "pred.csv"
    ws = str(shop.path)
    assert main(["--workspace", ws, "clv", "predict", "--as-of", "2025-01-31",
                 "--horizon-days", "90", "--out", str(out)]) == 0
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["profile_id", "customer_id", "predicted_purchases", "p_alive",
                                   "predicted_clv"]
    assert frame["customer_id"].str.startswith("C").all() and frame["profile_id"].is_unique
    capsys.readouterr()
    assert main(["--workspace", ws, "clv", "validate", "--calibration-end", "2024-09-30",
                 "--holdout-end", "2025-03-31", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert {"customers", "predicted_total", "actual_total", "mae", "spearman",
            "top_decile_capture"} <= set(figures)
    assert main(["--workspace", ws, "clv", "fit", "--as-of", "2025-01-31"]) == 0
    assert "fitted as of 2025-01-31" in capsys.readouterr().out
    assert main(["--workspace", ws, "rfm", "--as-of", "2025-01-31"]) == 0
    assert main(["--workspace", ws, "clv", "validate", "--calibration-end", "2020-01-01"]) == 1
    assert "first is on" in capsys.readouterr().err


def test_predict_joins_every_source_customer_id(workspace, analyst):
    rows = [(f"p{i}", f"2024-0{1 + i % 6}-1{i % 9}", 20 + i, f"C{i}") for i in range(40)]
    rows += [(f"p{i}", f"2024-0{7 + i % 3}-0{1 + i % 8}", 30, f"C{i}") for i in range(30)]
    rows += [("p0", "2024-03-03", 50, "LEGACY-0")]
    add_orders(workspace, rows)
    frame = predict_clv(workspace, analyst, date(2024, 10, 1), 90).set_index("profile_id")
    assert frame.loc["p0", "customer_id"] == "C0,LEGACY-0"
    assert len(frame) == 40


def test_scores_are_usable_in_segments(shop, marketer):
    from engine.segments import count_definition

    fit_clv(shop, marketer, date(2025, 1, 31), model="mbgnbd")

    def cond(**kw):
        return {"type": "condition", "kind": "value", **kw}

    def group(*children):
        return {"type": "group", "op": "all", "children": list(children)}

    customers = shop.scalar("SELECT count(*) FROM profile_scores")
    top = count_definition(shop, group(cond(field="clv_decile", op="equals", value=1)))
    assert abs(top - customers / 10) <= 1
    lapsed = count_definition(shop, group(cond(field="p_alive", op="lt", value=0.3),
                                          cond(field="m_score", op="gte", value=4)))
    expected = shop.scalar("SELECT count(*) FROM profile_scores WHERE p_alive < 0.3 AND m_score >= 4")
    assert lapsed == expected > 0


def test_gradient_boosting_alternative_runs_single_threaded(shop, analyst):
    result = validate_clv(shop, analyst, date(2024, 12, 31), date(2025, 3, 31), model="ml")
    assert result["model"] == "ml" and result["customers"] > 2000
    assert result["params"]["openmp_threads"] == 1
    assert result["spearman"] > 0.1 and 0 < result["predicted_total"]
