"""The SQL console as an analyst trying every way of naming the unmasked tables.

Each query's whole answer (or its error message) must hold no email, phone or name of the
seeded people. The control tests run the same queries as an admin and find the data, so the
check can fail; and counting with a literal (an oracle) must not tell an analyst anything.
"""
from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from engine import sql_console
from engine.cli.main import main
from tests.security.seed import ADMIN, ANALYST, PII_VALUES

DB = "cdp"   # the seeded workspace is …/cdp.duckdb, so current_database() is 'cdp'

# (query, an admin's answer shows personal data): the second part drives the control test.
BYPASSES = [
    (f"SELECT email, phone FROM {DB}.profiles", True),
    (f"SELECT email, phone FROM {DB}.main.profiles", True),
    (f'SELECT email FROM "{DB}"."main"."contacts"', True),
    (f"FROM {DB}.contacts SELECT email, phone", True),
    (f"SUMMARIZE {DB}.contacts", True),
    ("SUMMARIZE contacts", True),
    (f"SELECT * FROM (SUMMARIZE {DB}.profiles)", True),
    ("SELECT min(email) AS a, max(email) AS b, string_agg(phone, ',') AS c FROM profiles", True),
    (f"SELECT list(email) AS l FROM {DB}.main.contacts", True),
    ("SELECT email FROM main.profiles", True),
    ("SELECT email FROM memory.main.profiles", False),
    (f"SELECT email FROM {DB}.main.profiles WHERE current_database() = '{DB}'", True),
    ("SELECT email FROM temp.main.profiles", False),
    ("SELECT email FROM system.main.profiles", False),
    (f"WITH profiles AS (SELECT * FROM {DB}.main.profiles) SELECT email FROM profiles", True),
    (f"WITH x AS MATERIALIZED (SELECT email FROM {DB}.profiles) SELECT * FROM x", True),
    (f"SELECT to_json(p) AS j FROM {DB}.profiles p", True),
    (f"SELECT e.* FROM {DB}.profile_events e", True),
    (f"SELECT id_value FROM {DB}.profile_identifiers", True),
    (f"SELECT json_extract_string(traits, '$.email') AS x FROM {DB}.events", True),
    (f"SELECT email FROM contacts UNION ALL SELECT email FROM {DB}.contacts", True),
    (f"SELECT * FROM (DESCRIBE {DB}.contacts)", False),
    (f"PIVOT {DB}.contacts ON email USING count(*)", False),
    (f"PIVOT {DB}.contacts ON lead_stage IN ('lead') USING first(email)", True),
    ("SELECT * FROM (PIVOT contacts ON lead_stage IN ('lead') USING list(phone))", True),
    (f"UNPIVOT {DB}.contacts ON email, phone INTO NAME k VALUE v", True),
    (f"SELECT * FROM query_table('{DB}.main.contacts')", False),
    (f"SELECT * FROM query('SELECT email FROM {DB}.contacts')", False),
    (f"FROM '{DB}.main.contacts'", False),
    ("FROM 'contacts'", True),
    ("SELECT getvariable('email') AS v", False),
    ("SELECT * FROM pragma_storage_info('contacts')", False),
    ("SELECT * FROM duckdb_tables()", False),
    ("SELECT * FROM duckdb_columns()", False),
    ("SELECT * FROM duckdb_views()", False),
    ("SELECT * FROM information_schema.tables", False),
    ("SELECT * FROM information_schema.columns", False),
    ("SELECT * FROM duckdb_databases()", False),
    ("SELECT current_database() AS d, current_setting('enable_external_access') AS x", False),
    ("SELECT * FROM read_csv('/etc/passwd')", False),
    ("SELECT email FROM profiles, (SELECT 1) AS t(profiles)", True),
    (f"SELECT (SELECT email FROM {DB}.profiles LIMIT 1) AS e", True),
    (f"SELECT CAST(email AS INTEGER) AS n FROM {DB}.profiles", False),   # the error names the value
    (f"SELECT * FROM {DB}.quarantine UNION ALL SELECT * FROM {DB}.quarantine", False),
    (f"SELECT details FROM {DB}.audit_log", False),
    (f"SELECT traits, properties, context FROM {DB}.events", True),
    ("SELECT * FROM profile_contacts", True),
    ("SELECT * FROM profile_search_terms", False),
]


@pytest.fixture(autouse=True)
def _shared(seeded):
    _SEEDED["ws"] = seeded


_SEEDED: dict = {}


def _answer(user, sql: str) -> str:
    """Everything the console gives back: the rows as CSV, or the error a user reads."""
    try:
        return sql_console.run_readonly(_SEEDED["ws"], user, sql).to_csv(index=False)
    except sql_console.SqlRefused as exc:
        return f"refused: {exc}"


def _leaks(text: str) -> list[str]:
    return [v for v in PII_VALUES if v.lower() in text.lower()]


@pytest.mark.parametrize("sql", [q for q, _ in BYPASSES])
def test_analyst_reads_no_personal_data_however_the_tables_are_named(sql):
    answer = _answer(ANALYST, sql)
    assert not _leaks(answer), f"{sql!r} gave an analyst {_leaks(answer)}: {answer[:300]}"


@pytest.mark.parametrize("sql", [q for q, shows in BYPASSES if shows])
def test_the_bypass_check_can_fail(sql):
    """Control: the same query as an admin does show personal data, so the check above sees it."""
    answer = _answer(ADMIN, sql)
    assert _leaks(answer), f"{sql!r} should show an admin personal data: {answer[:300]}"


@pytest.mark.parametrize("where", [
    "email = 'zebulon.quixotic@example.org'",
    "starts_with(email, 'zeb')",
    "email LIKE 'zebulon%'",
    "phone LIKE '%900789'",
    "contains(CAST(to_json(p) AS VARCHAR), 'quixotic')",
])
def test_counting_with_a_literal_tells_an_analyst_nothing(where):
    sql = f"SELECT count(*) AS n FROM {DB}.profiles p WHERE {where}"
    assert sql_console.run_readonly(_SEEDED["ws"], ADMIN, sql)["n"][0] >= 1   # control: a real match
    assert sql_console.run_readonly(_SEEDED["ws"], ANALYST, sql)["n"][0] == 0


def test_console_connection_is_locked_down():
    with sql_console.console_connection(_SEEDED["ws"], masked=True) as con:
        ext, locked, db = con.execute(
            "SELECT current_setting('enable_external_access'), current_setting('lock_configuration'), "
            "current_database()").fetchone()
        attached = con.execute("SELECT database_name, readonly, path FROM duckdb_databases() "
                               "WHERE path IS NOT NULL AND path <> ''").fetchall()
        with pytest.raises(Exception, match="locked"):
            con.execute("SET enable_external_access = true")
    assert not ext and locked and db == DB
    # The workspace file is attached once, read-only, under a name no query text can know.
    assert [(readonly, name != DB) for name, readonly, _ in attached] == [(True, True)]
    assert attached[0][2].endswith("cdp.duckdb")


def test_cli_sql_masks_the_two_part_name_for_analysts(monkeypatch, capsys):
    monkeypatch.setenv("CDP_WORKSPACE", str(_SEEDED["ws"].path))
    monkeypatch.setenv("CDP_ROLE", "analyst")
    query = f"SELECT email AS contact, phone AS tel FROM {DB}.profiles"   # renamed: no output-name masking
    assert main(["sql", query]) == 0
    out = capsys.readouterr().out
    assert "contact" in out and not _leaks(out)
    monkeypatch.setenv("CDP_ROLE", "admin")      # control
    assert main(["sql", query]) == 0
    assert _leaks(capsys.readouterr().out)


@pytest.fixture
def workspace(seeded):
    """The SQL screen runs on the shared seeded workspace."""
    return seeded


@pytest.mark.parametrize("username, leaks", [("analyst", False), ("admin", True)])
def test_sql_screen_and_its_download_mask_the_two_part_name(logged_in_app, monkeypatch, username, leaks):
    from engine.access import csv_safe
    downloads = []
    real = csv_safe.safe_csv
    monkeypatch.setattr(csv_safe, "safe_csv", lambda df, *a, **k: downloads.append(real(df, *a, **k)) or downloads[-1])
    at = logged_in_app(username, "app_pages/sql.py")
    at.text_area[0].input(f"SELECT email AS contact, phone AS tel, first_name AS f FROM {DB}.profiles")
    next(b for b in at.button if b.label == "Run").click().run()
    assert not at.exception, at.exception
    shown = at.dataframe[0].value.to_csv(index=False)
    assert downloads and "contact" in downloads[-1]
    assert bool(_leaks(shown)) is leaks and bool(_leaks(downloads[-1])) is leaks


def test_a_long_query_is_stopped_and_never_locks_readers_out(monkeypatch):
    """The console holds the workspace read-only and stops a runaway query at its timeout."""
    monkeypatch.setenv("CDP_SQL_TIMEOUT_SECONDS", "4")
    outcome: dict = {}

    def run():
        try:
            sql_console.run_readonly(_SEEDED["ws"], ADMIN,
                                     "SELECT count(*) FROM range(100000000) a, range(100000000) b "
                                     "WHERE a.range + b.range = -1")
        except sql_console.SqlRefused as exc:
            outcome["error"] = str(exc)

    worker = threading.Thread(target=run)
    worker.start()
    try:
        # While it runs, another process can still open and read the workspace.
        reader = subprocess.run(
            [sys.executable, "-c", "import duckdb, sys; con = duckdb.connect(sys.argv[1], read_only=True); "
             "print(con.execute('SELECT count(*) FROM profiles').fetchone()[0])", str(_SEEDED["ws"].path)],
            capture_output=True, text=True, timeout=60)
    finally:
        worker.join(120)
    assert reader.returncode == 0, reader.stderr
    assert int(reader.stdout) >= 1
    assert "stopped" in outcome.get("error", ""), outcome
