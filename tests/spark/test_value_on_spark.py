"""RFM scores and the BTYD order-history summary give the same answer on Spark as on DuckDB (the
hand-built orders of tests/engine/test_value_rfm.py, plus refunds and a failed payment), and
`score_rfm` on Spark stores the same scores in the workspace."""
from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from engine.backend.duckdb_backend import DuckDBBackend
from engine.value import rfm_scores, save_segment_rules, score_rfm
from engine.value.history import history_summary, last_order_day, load_history
from engine.workspace import open_workspace
from tests.engine.test_value_rfm import AS_OF, ORDERS
from tests.engine.value_data import add_orders
from tests.spark.canonical import rows
from tests.spark.sessions import lakehouse_for

pytestmark = [pytest.mark.spark, pytest.mark.timeout(1800)]  # a busy machine: the first case starts Spark

MORE = [("f", "2024-06-30 23:59", 75.5), ("f", "2023-12-31 00:00", 12.25), ("g", "2024-02-29 12:00", 0)]
AS_OFS = [AS_OF, date(2024, 3, 15), date(2024, 1, 1), date(2024, 12, 31)]
SCORES = "SELECT profile_id, as_of, recency_days, frequency, monetary, r_score, f_score, m_score, rfm_segment " \
         "FROM profile_scores"


def _shop(folder):
    ws = open_workspace(folder / "cdp.duckdb")
    add_orders(ws, ORDERS + MORE)
    with ws.transaction() as con:   # a failed payment is not a purchase; a refund takes money off
        con.execute("UPDATE orders SET status = 'failed' WHERE source_record_id = 'f-13'")
        con.execute("UPDATE orders SET amount_refunded = 20 WHERE source_record_id = 'a-0'")
    return ws


@pytest.fixture(scope="module")
def shop(tmp_path_factory, spark_backend):
    ws = _shop(tmp_path_factory.mktemp("shop"))
    return ws, lakehouse_for(ws, spark_backend)


def test_the_last_order_day_is_the_same_on_spark(shop):
    ws, spark = shop
    assert last_order_day(spark) == last_order_day(DuckDBBackend(ws)) == date(2024, 7, 5)   # a's last order


@pytest.mark.parametrize("as_of", AS_OFS, ids=str)
def test_rfm_scores_are_the_same_on_spark(shop, analyst, as_of):
    ws, spark = shop
    on_duckdb = rfm_scores(ws, analyst, as_of, backend=DuckDBBackend(ws))
    assert len(on_duckdb) > 0
    assert rows(rfm_scores(ws, analyst, as_of, backend=spark)) == rows(on_duckdb)


@pytest.mark.parametrize("as_of", AS_OFS, ids=str)
def test_btyd_summary_is_the_same_on_spark(shop, as_of):
    ws, spark = shop
    on_duckdb = history_summary(DuckDBBackend(ws), as_of)
    assert len(on_duckdb) > 0
    assert rows(history_summary(spark, as_of)) == rows(on_duckdb)


def test_the_model_inputs_are_the_same_arrays_on_spark(shop):
    ws, spark = shop
    with ws.connect() as con:
        here, there = load_history(con, AS_OF), load_history(con, AS_OF, backend=spark)
    for name in ("profile_id", "frequency", "recency", "T", "monetary", "total_amount", "orders"):
        a, b = getattr(here, name), getattr(there, name)
        if a.dtype == object:
            assert a.tolist() == b.tolist(), name
        else:
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-9, equal_nan=True, err_msg=name)


def test_edited_rfm_rules_are_the_same_on_spark(tmp_path, spark_backend, marketer, analyst):
    ws = _shop(tmp_path)
    save_segment_rules(ws, marketer, [{"name": "Whales", "m": [5, 5]}, {"name": "Recent", "r": [4, 5]},
                                      {"name": "Rest"}])
    spark = lakehouse_for(ws, spark_backend)
    on_duckdb = rfm_scores(ws, analyst, AS_OF, backend=DuckDBBackend(ws))
    assert set(on_duckdb["rfm_segment"]) == {"Whales", "Recent", "Rest"}
    assert rows(rfm_scores(ws, analyst, AS_OF, backend=spark)) == rows(on_duckdb)


def test_score_rfm_on_spark_stores_what_duckdb_stores(tmp_path, spark_backend, marketer):
    here, there = _shop(tmp_path / "here"), _shop(tmp_path / "there")
    summary_here = score_rfm(here, marketer, backend=DuckDBBackend(here))
    summary_there = score_rfm(there, marketer, backend=lakehouse_for(there, spark_backend))
    assert summary_there == summary_here
    assert rows(there.query_df(SCORES)) == rows(here.query_df(SCORES))
