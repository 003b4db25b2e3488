"""Model choice on the workspace's own holdout, accuracy in money, and p_alive for one-time buyers."""
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from engine.value import choose, fit_clv, validate_clv
from engine.value.accuracy import by_decile, revenue_metrics
from engine.value.clv import predict_history
from engine.value.history import History
from engine.value.simulate import load_orders, simulate_orders

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py


def _figures(spearman, revenue_mae, mae=1.0):
    return {"spearman": spearman, "revenue_mae": revenue_mae, "mae": mae, "revenue_error": 0.0}


def test_pick_takes_smallest_revenue_error_among_the_best_rankers():
    results = {
        "bgnbd": _figures(0.40, 10.0),
        "mbgnbd": _figures(0.45, 12.0),
        "pareto": _figures(0.44, 11.0),   # within 0.02 of the best Spearman, smaller error
        "ml": _figures(0.30, 5.0),        # smallest error but ranks badly: not eligible
        "broken": {"error": "did not converge"},
    }
    assert choose.pick(results) == "pareto"
    assert choose.pick({"ml": {"error": "too thin"}}) is None


def test_holdout_split_stays_inside_the_history():
    first, as_of = date(2024, 1, 1), date(2024, 12, 31)
    cal, end = choose.holdout_split(first, as_of, 365)
    assert end == as_of and cal == as_of - timedelta(days=(as_of - first).days // 2)
    assert choose.holdout_split(first, first + timedelta(days=20), 365) is None


def test_revenue_figures_and_deciles_add_up():
    m = revenue_metrics([10.0, 0.0, 5.0, 5.0], [8.0, 2.0, 0.0, 10.0])
    assert m["predicted_revenue"] == 20 and m["actual_revenue"] == 20 and m["revenue_error"] == 0
    assert m["revenue_mae"] == pytest.approx((2 + 2 + 5 + 5) / 4)
    table = by_decile(np.arange(20, dtype=float), np.ones(20), np.arange(20, dtype=float), np.ones(20))
    assert table["customers"].sum() == 20 and table["decile"].tolist() == list(range(1, 11))
    assert table.loc[0, "actual_revenue"] == 19 + 18  # the top decile holds the two largest
    assert table["revenue_share"].sum() == pytest.approx(1.0)


def test_bgnbd_fit_gives_one_time_buyers_a_real_p_alive():
    orders = simulate_orders(2000, seed=8)
    days = orders.assign(day=orders["ordered_at"].dt.normalize())
    per = days.groupby("profile_id")["day"].agg(["min", "max", "nunique"])
    as_of = days["day"].max()
    history = History(profile_id=per.index.to_numpy(object), frequency=(per["nunique"] - 1).to_numpy(float),
                      recency=(per["max"] - per["min"]).dt.days.to_numpy(float),
                      T=(as_of - per["min"]).dt.days.to_numpy(float),
                      monetary=np.full(len(per), 20.0), total_amount=np.full(len(per), 40.0),
                      orders=per["nunique"].to_numpy(float), as_of=as_of.date())
    prediction = predict_history(history, "bgnbd", 365, 1.0, 0.1)
    one_time = prediction.frame["frequency"] == 0
    assert one_time.any()
    alive = prediction.frame.loc[one_time, "p_alive"]
    assert (alive < 1.0).all() and alive.nunique() > 1
    assert prediction.params["p_alive_model"] == "mbgnbd"


@pytest.fixture
def shop(workspace):
    with workspace.transaction() as con:
        load_orders(con, simulate_orders(1500, seed=6))
    return workspace


@pytest.mark.slow
def test_fit_chooses_stores_the_choice_and_validate_judges_it(shop, marketer, analyst):
    result = fit_clv(shop, marketer, date(2025, 6, 30), horizon_days=180)
    choice = result["choice"]
    assert result["model"] == choice["model"] in choose.CANDIDATES
    assert set(choice["candidates"]) == set(choose.CANDIDATES)
    stored = shop.scalar("SELECT details FROM value_model_runs WHERE run_id = ?", [result["run_id"]])
    assert choice["model"] in stored and "Spearman" in stored
    assert shop.scalar("SELECT DISTINCT model FROM profile_scores") == choice["model"]
    pinned = fit_clv(shop, marketer, date(2025, 6, 30), model="pareto", horizon_days=180)
    assert pinned["model"] == "pareto" and pinned["choice"] is None
    check = validate_clv(shop, analyst, date(2024, 12, 31), date(2025, 6, 30), save=False)
    # the choice is made inside the calibration period only
    assert check["choice"]["holdout_end"] == "2024-12-31"
    for key in ("customers", "predicted_total", "actual_total", "mae", "spearman", "top_decile_capture",
                "predicted_revenue", "actual_revenue", "revenue_error", "revenue_top_decile_capture"):
        assert key in check and key in check["naive"]
    assert len(check["by_decile"]) == 10 and "actually spent" in check["summary"]
    frame = pd.DataFrame(check["by_decile"])
    assert frame["actual_revenue"].sum() == pytest.approx(check["actual_revenue"])


def test_ranges_bracket_each_prediction_and_the_total(shop, marketer):
    result = fit_clv(shop, marketer, date(2025, 6, 30), model="bgnbd", horizon_days=365)
    spread = result["predicted_clv_range"]
    assert spread["total_low"] < result["predicted_clv"] < spread["total_high"]
    rows = shop.query_df("SELECT predicted_clv, clv_low, clv_high FROM profile_scores")
    assert rows["clv_low"].notna().all()
    assert (rows["clv_low"] <= rows["predicted_clv"] + 1e-9).all()
    assert (rows["predicted_clv"] <= rows["clv_high"] + 1e-9).all()
    assert (rows["clv_high"] > rows["clv_low"]).mean() > 0.9  # a real width for nearly everyone


def test_ranges_narrow_with_more_customers():
    from engine.value import btyd, ranges
    from engine.value.simulate import CDNOW_PARAMS, simulate_bgnbd

    widths = []
    for n in (500, 20000):
        x, t_x, T, _ = simulate_bgnbd(n, **CDNOW_PARAMS, seed=2)
        triples = btyd.compress(x, t_x, T)
        model = btyd.BGNBD().fit(triples)
        discounted = model.discounted_purchases(365.0, triples.x, triples.t_x, triples.T)
        found = ranges.clv_ranges(model, triples, discounted, 365.0, 0.0)
        values = triples.expand(discounted)
        low, high = found.total_bounds(values, triples.inverse)
        widths.append((high - low) / values.sum())
    assert widths[1] < widths[0]


def test_totals_are_corrected_by_the_chosen_models_miss_on_its_own_holdout():
    from engine.value.choose import adjusted_totals, total_adjustment

    def choice(customers, predicted, actual, revenue=(100.0, 130.0)):
        return {"model": "pareto", "holdout_end": "2026-01-01", "candidates": {"pareto": {
            "customers": customers, "predicted_total": predicted, "actual_total": actual,
            "predicted_revenue": revenue[0], "actual_revenue": revenue[1]}}}

    adjustment = total_adjustment(choice(1000, 80.0, 100.0))
    assert adjustment["purchases"] == 1.25 and adjustment["revenue"] == 1.3
    assert adjusted_totals(40.0, 200.0, adjustment) == {"adjusted_predicted_total": 50.0,
                                                        "adjusted_predicted_revenue": 260.0}
    assert total_adjustment(choice(100, 80.0, 100.0)) is None            # too few to say anything
    assert total_adjustment(choice(1000, 10.0, 100.0))["purchases"] == 2.0  # never more than x2
    assert total_adjustment(None) is None
    assert adjusted_totals(40.0, None, None) == {"adjusted_predicted_total": 40.0,
                                                 "adjusted_predicted_revenue": None}
