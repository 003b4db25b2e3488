"""Formula injection: every CSV the product writes neutralises cells a spreadsheet would run."""
from __future__ import annotations

import io
import re
import zipfile

import pandas as pd
import pytest

from engine.access.csv_safe import neutralise_formulas, safe_csv
from engine.ingest import quarantine
from engine.privacy import subject
from engine.segments import create_segment, delete_segment, export_members_csv
from tests.security.seed import ADMIN, ANALYST, FORMULAS, MARKETER

RISKY = tuple("=+-@\t\r\n")


def _risky_cells(df: pd.DataFrame) -> list:
    """Text cells a spreadsheet would evaluate (plain numbers like -5.0 are numbers, not formulas)."""
    return [v for col in df.columns for v in df[col]
            if isinstance(v, str) and v.startswith(RISKY) and not re.fullmatch(r"[+-]?\d+(\.\d+)?", v)]


def test_helper_prefixes_each_dangerous_start_and_keeps_numbers():
    df = pd.DataFrame({"text": FORMULAS + ["plain", None], "amount": [-5.0] * 7 + [1.0, 2.0]})
    out = neutralise_formulas(df)
    assert list(out["text"][:7]) == ["'" + f for f in FORMULAS]
    assert out["text"][7] == "plain" and pd.isna(out["text"][8])
    assert list(out["amount"]) == list(df["amount"])
    back = pd.read_csv(io.StringIO(safe_csv(df)), keep_default_na=False)
    assert not _risky_cells(back)


def _definition():
    return {"type": "group", "op": "all", "children": [
        {"type": "condition", "kind": "trait", "field": "customer_id", "op": "is_set"}]}


@pytest.mark.parametrize("user", [ADMIN, MARKETER, ANALYST], ids=lambda u: u.role)
def test_audience_export_neutralises_formulas(seeded, tmp_path, user):
    seg = create_segment(seeded, ADMIN, f"export {user.role}", _definition())
    out = tmp_path / "audience.csv"
    rows = export_members_csv(seeded, user, seg, out)
    delete_segment(seeded, ADMIN, seg)
    df = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert rows == len(df) == 3
    assert not _risky_cells(df)
    if user is ADMIN:   # the payloads are there, defused, for people who may see them
        assert "'" + FORMULAS[0] in set(df["first_name"])
        assert "'" + FORMULAS[1] in set(df["last_name"])


def test_quarantine_export_neutralises_formulas(seeded, tmp_path):
    from engine.ingest import ingest_file
    bad = tmp_path / "orders.csv"
    bad.write_text('order_id,order_date,email,total\n=cmd|calc,not a date,+x@example.com,@SUM(1)\n')
    ingest_file(seeded, ADMIN, "orders", bad, "formula-shop")
    out = tmp_path / "q.csv"
    assert quarantine.export_quarantine(seeded, ADMIN, out, source="formula-shop") >= 1
    df = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert not _risky_cells(df)


def test_privacy_archive_csvs_neutralise_formulas(seeded):
    archive = subject.export_subject(seeded, ADMIN, "email", "formula.person@example.com")
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        csvs = [n for n in z.namelist() if n.endswith(".csv")]
        assert csvs
        seen = ""
        for name in csvs:
            text = z.read(name).decode()
            seen += text
            if text.strip():
                assert not _risky_cells(pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)), name
    assert "'=HYPERLINK" in seen


def test_identity_member_export_neutralises_formulas(seeded, tmp_path):
    from engine.identity.resolve import export_members
    out = tmp_path / "members.csv"
    export_members(seeded, ADMIN, out)
    assert not _risky_cells(pd.read_csv(out, dtype=str, keep_default_na=False))


def test_screen_downloads_use_the_helper():
    """The SQL, Sources (quarantine) and audit-log downloads go through safe_csv."""
    from pathlib import Path
    for page in ("app_pages/sql.py", "app_pages/sources.py", "app_pages/admin.py"):
        text = Path(page).read_text()
        assert "safe_csv(" in text and ".to_csv(" not in text, page


# -- the activation audience export (engine/activation/export.py) -----------------------------

def _members(seeded):
    return seeded.query_df("SELECT profile_id FROM profiles WHERE customer_id IS NOT NULL")


def test_activation_export_neutralises_formulas_for_admin(seeded, tmp_path):
    from engine.activation import export
    out = tmp_path / "audience.csv"
    result = export.export_audience(seeded, ADMIN, out, _members(seeded),
                                    columns=["profile_id", "email", "first_name", "last_name", "city"],
                                    enforce_consent=False)
    df = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert result["rows"] == len(df) == 3
    assert not _risky_cells(df)
    assert "'" + FORMULAS[0] in set(df["first_name"]) and "'" + FORMULAS[3] in set(df["city"])


def test_activation_export_refuses_plain_personal_data_to_analyst(seeded, tmp_path):
    """Consistent with roles.py: analysts hold `export` but not `view_pii`: plain PII is refused,
    hashed identifiers and non-personal columns are allowed."""
    from engine.access import PermissionDenied
    from engine.activation import export
    from tests.security.seed import PII_VALUES
    with pytest.raises(PermissionDenied):
        export.export_audience(seeded, ANALYST, tmp_path / "a.csv", _members(seeded),
                               columns=["profile_id", "email"], enforce_consent=False)
    assert not (tmp_path / "a.csv").exists()
    out = tmp_path / "hashed.csv"
    export.export_audience(seeded, ANALYST, out, _members(seeded), columns=["profile_id", "email", "first_name"],
                           hash_format="meta", enforce_consent=False)
    text = out.read_text()
    assert not [v for v in PII_VALUES if v.lower() in text.lower()]
    assert not _risky_cells(pd.read_csv(out, dtype=str, keep_default_na=False))


# -- the command line's CSV output (engine/cli/output.print_csv) ---------------------------------

@pytest.mark.parametrize("argv, engine_call", [
    (["sql", "SELECT first_name, last_name, city, -2 AS n FROM contacts"],
     lambda ws: __import__("engine.sql_console", fromlist=["x"]).run_readonly(
         ws, ADMIN, "SELECT first_name, last_name, city, -2 AS n FROM contacts")),
    (["profile", "search", "C002"],
     lambda ws: __import__("engine.profiles", fromlist=["x"]).search_profiles(ws, ADMIN, "C002")),
])
def test_cli_csv_neutralises_formulas(seeded, monkeypatch, capsys, argv, engine_call):
    from engine.cli.main import main
    raw = engine_call(seeded)
    assert _risky_cells(raw), "control: the rows behind the command do hold formula cells"
    monkeypatch.setenv("CDP_WORKSPACE", str(seeded.path))
    monkeypatch.setenv("CDP_ROLE", "admin")
    assert main(argv) == 0
    printed = pd.read_csv(io.StringIO(capsys.readouterr().out), dtype=str, keep_default_na=False)
    assert len(printed) == len(raw) and not _risky_cells(printed)
    assert any(str(v).startswith("'" + FORMULAS[0][:5]) for col in printed.columns for v in printed[col])
    if "n" in printed.columns:
        assert set(printed["n"]) == {"-2"}   # numbers stay numbers
