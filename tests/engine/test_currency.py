"""Currencies: amounts in several currencies are never added up raw. Orders files in GBP and EUR
(loaded without a mapping), a rates file into the reporting currency, dated rates taking effect
on their day, and orders in a currency with no rate flagged and left out with a visible count."""
from __future__ import annotations

import datetime as dt
import pickle

import pytest

from engine.currency import (CurrencyError, currency_status, load_rates, reporting_currency, set_reporting_currency,
                             unconverted_message)
from engine.identity import resolve
from engine.ingest import ingest_file
from engine.segments import create_segment, segment_members

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
DAY1, DAY2 = (NOW - dt.timedelta(days=20)).date(), (NOW - dt.timedelta(days=10)).date()

# (order id, day, email, amount, currency)
ORDERS = [("A1", DAY1, "ann@mailbox.org", 100.0, "GBP"), ("A2", DAY2, "ann@mailbox.org", 50.0, "GBP"),
          ("B1", DAY1, "bob@mailbox.org", 100.0, "EUR"), ("B2", DAY2, "bob@mailbox.org", 100.0, "EUR"),
          ("C1", DAY2, "cy@mailbox.org", 1000.0, "JPY"), ("D1", DAY2, "dee@mailbox.org", 30.0, "GBP")]


def _orders_csv(rows) -> str:
    return "Order ID,Order Date,Email,Total,Currency\n" + "".join(
        f"{o},{d.isoformat()},{e},{a:.2f},{c}\n" for o, d, e, a, c in rows)


@pytest.fixture
def shop(built_workspace, admin):
    """The orders loaded and resolved (built once), and what the load reported."""
    def build(workspace):
        path = workspace.folder / "orders.csv"
        path.write_text(_orders_csv(ORDERS), encoding="utf-8")
        result = ingest_file(workspace, admin, "orders", path, "shop")
        resolve(workspace, admin)
        (workspace.folder / "load_result.pickle").write_bytes(pickle.dumps(result))
    workspace = built_workspace("currency-shop", build)
    return workspace, pickle.loads((workspace.folder / "load_result.pickle").read_bytes())


def _revenue(workspace) -> dict:
    return {e: pytest.approx(v) for e, v in workspace.query_rows(
        "SELECT email, sum(net_amount) FROM profile_revenue_orders GROUP BY email")}


def _rates(tmp_path, text: str):
    path = tmp_path / "rates.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_first_orders_set_the_reporting_currency_and_others_wait_for_a_rate(shop):
    workspace, result = shop
    assert reporting_currency(workspace) == "GBP"                     # the most common currency
    assert [w for w in result.warnings if w.startswith("currency:")] == [
        "currency: 3 order(s) have no rate into the reporting currency GBP (2 in EUR, 1 in JPY) and are left "
        "out of revenue until rates are loaded (`cdp currency rates FILE`)."]
    # never summed raw: the EUR and JPY orders are left out, and counted
    assert _revenue(workspace) == {"ann@mailbox.org": 150, "dee@mailbox.org": 30}
    status = currency_status(workspace)
    assert status["unconverted_orders"] == 3
    assert status["unconverted_by_currency"]["EUR"] == {"orders": 2, "amount": 200.0}
    assert "3 order(s) are left out of revenue" in unconverted_message(status)


def test_rates_convert_on_each_orders_day_and_bad_lines_are_reported(shop, admin, tmp_path):
    workspace, _ = shop
    rates = _rates(tmp_path, f"Currency,Rate,Date\nEUR,0.80,{DAY1 - dt.timedelta(days=30)}\n"
                             f"eur,0.90,{DAY2 - dt.timedelta(days=1)}\nJPY,0.005,\nXX,1,\nUSD,-1,\n")
    outcome = load_rates(workspace, admin, rates)
    assert (outcome["rates_loaded"], outcome["lines_refused"]) == (3, 2)
    assert "line 5, 6" in outcome["warnings"][0]
    # B1 on day 1 takes the older rate, B2 the newer one; the undated JPY rate applies any day
    assert _revenue(workspace) == {"ann@mailbox.org": 150, "bob@mailbox.org": 100 * 0.80 + 100 * 0.90,
                                   "cy@mailbox.org": 5.0, "dee@mailbox.org": 30}
    assert currency_status(workspace)["unconverted_orders"] == 0
    # a platform sent the order's own currency (conversion forwarding) gets the order's own money
    assert workspace.query_rows("SELECT net_amount, net_amount_local, currency FROM revenue_orders "
                                "WHERE order_id = 'B1'") == [(pytest.approx(80.0), 100.0, "EUR")]
    definition = {"type": "group", "op": "all", "children": [
        {"type": "condition", "kind": "orders", "measure": "total_revenue", "op": "gt", "value": 160}]}
    members = segment_members(workspace, admin, create_segment(workspace, admin, "over 160", definition))
    assert set(members["email"]) == {"bob@mailbox.org"}                # raw, bob's 200 > ann's 150 anyway
    # reloading a rate for the same currency and day replaces it
    load_rates(workspace, admin, _rates(tmp_path, "currency,rate\nJPY,0.006\n"))
    assert _revenue(workspace)["cy@mailbox.org"] == 6.0


def test_changing_the_reporting_currency_needs_rates_into_it(shop, admin, tmp_path):
    workspace, _ = shop
    load_rates(workspace, admin, _rates(tmp_path, "currency,rate\nEUR,0.85\nJPY,0.005\n"))
    set_reporting_currency(workspace, admin, "eur")
    # the GBP rates do not apply to EUR: only EUR orders count until rates into EUR are loaded
    assert _revenue(workspace) == {"bob@mailbox.org": 200}
    load_rates(workspace, admin, _rates(tmp_path, "from,to,rate\nGBP,EUR,1.2\n"))
    assert _revenue(workspace)["ann@mailbox.org"] == pytest.approx(180)
    with pytest.raises(CurrencyError):
        set_reporting_currency(workspace, admin, "euro")
    with pytest.raises(CurrencyError):
        load_rates(workspace, admin, _rates(tmp_path, "name,value\nx,1\n"))


def test_orders_without_a_currency_are_in_the_reporting_currency(workspace, admin, tmp_path):
    path = tmp_path / "till.csv"
    path.write_text("Receipt No,Date,Customer Email,Total\nR1,2026-01-02,eve@mailbox.org,12.50\n", encoding="utf-8")
    result = ingest_file(workspace, admin, "orders", path, "till")
    assert not [w for w in result.warnings if w.startswith("currency:")]
    resolve(workspace, admin)
    assert _revenue(workspace) == {"eve@mailbox.org": 12.5}


def test_cli_sets_the_currency_loads_rates_and_reports(shop, tmp_path, monkeypatch, capsys):
    import json

    from engine.cli.main import main

    workspace, _ = shop
    monkeypatch.setenv("CDP_WORKSPACE", str(workspace.path))
    assert main(["currency", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert (status["reporting_currency"], status["unconverted_orders"]) == ("GBP", 3)
    rates = _rates(tmp_path, "currency,rate\nEUR,0.85\nJPY,0.005\n")
    assert main(["currency", "rates", str(rates), "--json"]) == 0
    outcome = json.loads(capsys.readouterr().out)
    assert outcome["rates_loaded"] == 2 and outcome["unconverted_orders"] == 0
    assert main(["currency", "--set", "nope"]) == 1
    assert main(["currency", "--set", "EUR"]) == 0
    assert "Reporting currency: EUR" in capsys.readouterr().out


def test_one_rate_added_by_hand(shop, admin):
    from engine.currency import add_rate

    workspace, _ = shop
    add_rate(workspace, admin, "eur", 0.5)
    assert _revenue(workspace)["bob@mailbox.org"] == pytest.approx(100)
    with pytest.raises(CurrencyError):
        add_rate(workspace, admin, "EUR", 0)
