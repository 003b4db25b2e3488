"""Large uploads take shortcuts; these tests hold them to the same answers as the long way.

A CSV of more rows than the inference sample is staged only for that sample and then read
whole, once, by the load itself; and the first load of a source writes its rows straight into
the typed table (bad rows moved to the quarantine after). Here the sample is made tiny so the
small test files take the one-pass path, every file test of test_ingest_files runs again that
way, and the three paths (one pass, fully staged first load, general upsert) are compared
table by table on a file with every kind of problem.
"""
import json

import pandas as pd
import pytest

import engine.ingest.first_load as first_load
import engine.ingest.load as load
from engine.ingest import ingest_file
from tests.conftest import copy_workspace
# Every file test again, collected in this module so the tiny sample below applies to them.
from tests.engine.test_ingest_files import *  # noqa: F401,F403


@pytest.fixture(autouse=True)
def tiny_sample(monkeypatch):
    monkeypatch.setattr(load, "INFER_SAMPLE", 2)


def _messy_rows(n: int = 300) -> str:
    """Contacts with every kind of problem, spread through the file (not just the sample)."""
    lines = ["Contact ID,Email,Phone,First Name,DOB,Stage,Deal Value,Created,Colour"]
    for i in range(1, n + 1):
        email, phone, dob, value, rid, created = (f"P{i}@Example.com", f"+44 20 7946 {i:04d}", "13/01/1980",
                                                  f"{i}.50", f"C{i}", f"2024-01-{1 + i % 28:02d} 10:00:00")
        if i % 17 == 0:
            dob = "31/02/1990"                        # lenient: loads empty, warned, kept in traits
        if i % 23 == 0:
            email, phone, dob = "", "call me", ""     # no identifier, a name only: quarantined
        if i % 29 == 0:
            rid = ""                                  # missing record id: quarantined
        if i % 31 == 0:
            value = '"(1,234.00)"'                    # not a plain number: the slow money path
        if i % 37 == 0:
            phone = "(020) 7946-0000"                 # punctuation: the full phone clean-up
        if i % 41 == 0:
            dob = "1980-01-13"                        # ISO among DD/MM: the full date chain
        line = f"{rid},{email},{phone}, {'Ann' if i % 2 else 'Bob'} ,{dob},lead,{value},{created},red"
        if i % 43 == 0:
            line += ",extra,fields"                   # malformed line: quarantined by the reader
        if i % 47 == 0:
            line = line.replace(",red", ',"blue\nand green"')   # quoted newline
        lines.append(line)
    return "\n".join(lines) + "\n"


def _state(ws):
    frames = {
        "contacts": ws.query_df("SELECT * EXCLUDE (loaded_at) FROM contacts ORDER BY source_record_id"),
        "quarantine": ws.query_df("SELECT row_number, raw, reason FROM quarantine ORDER BY row_number"),
        "stages": ws.query_df("SELECT * FROM lead_stage_changes ORDER BY source_record_id"),
    }
    return {k: v.reset_index(drop=True) for k, v in frames.items()}


def _load_three_ways(tmp_path, admin, monkeypatch, text, migrated_template):
    path = tmp_path / "crm.csv"
    path.write_text(text)
    results, states = {}, {}
    real_fillers = first_load.fresh_fillers
    for way in ("one pass", "staged", "general"):
        monkeypatch.setattr(load, "INFER_SAMPLE", 2 if way == "one pass" else 100_000)
        monkeypatch.setattr(first_load, "fresh_fillers", real_fillers if way != "general" else lambda *a: None)
        ws = copy_workspace(migrated_template, tmp_path / way / "cdp.duckdb")
        results[way] = ingest_file(ws, admin, "contacts", path, "CRM")
        states[way] = _state(ws)
    return results, states


def test_one_pass_staged_and_general_paths_store_the_same(tmp_path, admin, monkeypatch, migrated_template):
    results, states = _load_three_ways(tmp_path, admin, monkeypatch, _messy_rows(), migrated_template)
    summaries = {way: r.summary() for way, r in results.items()}
    assert summaries["one pass"] == summaries["staged"] == summaries["general"]
    s = summaries["one pass"]
    assert s["rows_read"] == 300 == s["rows_loaded"] + s["rows_quarantined"]
    assert s["rows_quarantined"] == len({i for i in range(1, 301) if i % 23 == 0 or i % 29 == 0 or i % 43 == 0})
    for table in ("contacts", "quarantine", "stages"):
        pd.testing.assert_frame_equal(states["one pass"][table], states["staged"][table], obj=table)
        pd.testing.assert_frame_equal(states["one pass"][table], states["general"][table], obj=table)
    quarantine = states["one pass"]["quarantine"].set_index("row_number")
    assert quarantine.loc[43, "reason"].startswith("malformed line")
    assert quarantine.loc[23, "reason"].startswith("no usable identifier")
    assert quarantine.loc[29, "reason"] == "missing record id"
    assert json.loads(quarantine.loc[23, "raw"])["Phone"] == "call me"
    rows = states["one pass"]["contacts"].set_index("source_record_id")
    assert rows.loc["C47", "traits"] == '{"Colour":"blue\\nand green"}'    # row numbers after the newline hold
    assert rows.loc["C31", "deal_value"] == -1234.0 and rows.loc["C37", "phone"] == "02079460000"
    assert str(rows.loc["C41", "date_of_birth"])[:10] == "1980-01-13"
    assert rows.loc["C1", "email"] == "p1@example.com" and rows.loc["C1", "first_name"] == "Ann"
    assert any("date_of_birth" in w and "31/02/1990" in w for w in results["one pass"].warnings)


def test_repeated_record_ids_fall_back_to_the_general_path(tmp_path, admin, monkeypatch, migrated_template):
    text = _messy_rows(60) + "C5,new5@example.com,,Five,,customer,,2024-03-01 00:00:00,\n"
    results, states = _load_three_ways(tmp_path, admin, monkeypatch, text, migrated_template)
    assert results["one pass"].summary() == results["general"].summary()
    for table in ("contacts", "quarantine", "stages"):
        pd.testing.assert_frame_equal(states["one pass"][table], states["general"][table], obj=table)
    rows = states["one pass"]["contacts"].set_index("source_record_id")
    assert rows.loc["C5", "email"] == "new5@example.com"                  # the last row won
    assert states["one pass"]["quarantine"].set_index("row_number").loc[5, "reason"].startswith(
        "duplicate record id 'C5'")


def test_crash_during_a_one_pass_load_leaves_nothing(workspace, admin, tmp_path, monkeypatch):
    path = tmp_path / "crm.csv"
    path.write_text(_messy_rows(50))
    real = first_load.load_fresh

    def crash(*args, **kwargs):
        real(*args, **kwargs)            # rows are written straight into contacts ...
        raise RuntimeError("power cut")  # ... then the process dies before commit

    monkeypatch.setattr(first_load, "load_fresh", crash)
    with pytest.raises(RuntimeError):
        ingest_file(workspace, admin, "contacts", path, "CRM")
    for table in ("contacts", "quarantine", "loads", "lead_stage_changes"):
        assert workspace.scalar(f"SELECT count(*) FROM {table}") == 0, table
    monkeypatch.setattr(first_load, "load_fresh", real)
    assert ingest_file(workspace, admin, "contacts", path, "CRM").rows_read == 50


def test_no_marker_rows_are_left_behind(workspace, admin, tmp_path):
    path = tmp_path / "crm.csv"
    path.write_text(_messy_rows(100))
    result = ingest_file(workspace, admin, "contacts", path, "CRM")
    assert result.rows_quarantined > 0
    assert workspace.query_rows("SELECT DISTINCT source FROM contacts") == [("CRM",)]
    assert workspace.scalar("SELECT count(*) FROM contacts") == result.rows_loaded


# CDNOW-like purchases: no id column, and the same customer buying the same amount twice on a day.
PURCHASES = ("customer_email,date,quantity,amount\n"
             "a@x.com,1997-01-01,1,11.77\n"
             "a@x.com,1997-01-01,1,11.77\n"
             "b@x.com,1997-01-02,2,20.00\n"
             "a@x.com,1997-01-01,1,11.77\n"
             "c@x.com,1997-01-03,1,5.00\n")


@pytest.mark.parametrize("way", ["one pass", "staged", "general"])
def test_identical_rows_without_an_id_stay_separate_and_reload_changes_nothing(tmp_path, admin, monkeypatch, way,
                                                                              migrated_template):
    monkeypatch.setattr(load, "INFER_SAMPLE", 2 if way == "one pass" else 100_000)
    if way == "general":
        monkeypatch.setattr(first_load, "fresh_fillers", lambda *a: None)
    path = tmp_path / "purchases.csv"
    path.write_text(PURCHASES)
    ws = copy_workspace(migrated_template, tmp_path / "cdp.duckdb")
    first = ingest_file(ws, admin, "orders", path, "CDNOW")
    assert (first.rows_read, first.rows_loaded, first.rows_quarantined) == (5, 5, 0)
    assert ws.query_rows("SELECT email, count(*), sum(amount) FROM orders GROUP BY email ORDER BY email") == [
        ("a@x.com", 3, pytest.approx(35.31)), ("b@x.com", 1, 20.0), ("c@x.com", 1, 5.0)]
    ids = {r[0] for r in ws.query_rows("SELECT source_record_id FROM orders")}
    # the same file under another name (not recognised as already loaded) matches every row again
    copy = tmp_path / "purchases again.csv"
    copy.write_text(PURCHASES + "\n")
    again = ingest_file(ws, admin, "orders", copy, "CDNOW")
    assert (again.rows_loaded, again.rows_inserted, again.rows_updated, again.rows_quarantined) == (5, 0, 0, 0)
    assert {r[0] for r in ws.query_rows("SELECT source_record_id FROM orders")} == ids
    # a fourth identical purchase in a later export is one new order
    copy.write_text(PURCHASES + "a@x.com,1997-01-01,1,11.77\n")
    more = ingest_file(ws, admin, "orders", copy, "CDNOW")
    assert (more.rows_inserted, more.rows_quarantined) == (1, 0)
    assert ws.scalar("SELECT count(*) FROM orders WHERE email = 'a@x.com'") == 4
