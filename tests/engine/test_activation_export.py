"""Exports: chosen columns, hashed formats, consent, formula-injection safety, roles, CLI."""
import csv
import hashlib

import pyarrow.parquet as pq
import pytest

from engine.access import PermissionDenied
from engine.activation import export
from engine.cli.main import main as cli
from tests.engine.activation_data import add_people, suppress_email

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_csv_cells_starting_with_formula_characters_are_neutralised(workspace, admin, tmp_path):
    ids = add_people(workspace, 6)
    evil = ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tTab", "\rCR"]
    with workspace.transaction() as con:
        for pid, value in zip(ids, evil):
            con.execute("UPDATE profiles SET first_name = ?, last_name = 'Safe' WHERE profile_id = ?", [value, pid])
    out = export.export_audience(workspace, admin, tmp_path / "a.csv", ids,
                                 columns=["profile_id", "first_name", "last_name"])
    rows = read_csv(out["path"])
    assert [r["first_name"] for r in rows] == ["'" + v for v in evil]
    assert all(r["last_name"] == "Safe" for r in rows)
    assert out["rows"] == 6


def test_hashed_meta_format_and_parquet(workspace, admin, tmp_path):
    ids = add_people(workspace, 3)
    out = export.export_audience(workspace, admin, tmp_path / "a.parquet", ids,
                                 columns=["profile_id", "email", "phone", "country"], hash_format="meta")
    table = pq.read_table(out["path"]).to_pydict()
    assert list(table) == ["profile_id", "email_sha256", "phone_sha256", "country_sha256"]
    assert table["email_sha256"][0] == hashlib.sha256(b"person.0+news@example.com").hexdigest()
    assert table["phone_sha256"][0] == hashlib.sha256(b"447700900000").hexdigest()
    out = export.export_audience(workspace, admin, tmp_path / "g.csv", ids,
                                 columns=["email", "country"], hash_format="google")
    rows = read_csv(out["path"])
    assert rows[0] == {"email_sha256": hashlib.sha256(b"person.0+news@example.com").hexdigest(), "country": "GB"}


def test_export_holds_back_without_consent_and_suppressed(workspace, admin, tmp_path):
    ids = add_people(workspace, 4) + add_people(workspace, 2, start=10, consent=None)
    with workspace.transaction() as con:
        suppress_email(con, "person.0+news@example.com")
    out = export.export_audience(workspace, admin, tmp_path / "a.csv", ids)
    assert out["rows"] == 3 and out["held_back_reasons"] == {"no_advertising_consent": 2, "suppressed": 1}
    out = export.export_audience(workspace, admin, tmp_path / "b.csv", ids, enforce_consent=False)
    assert out["rows"] == 5                     # the suppressed person never leaves
    assert workspace.scalar("SELECT count(*) FROM audit_log WHERE action = 'audience.export'") == 2


def test_roles_and_bad_input(workspace, analyst, admin, tmp_path):
    ids = add_people(workspace, 2)
    with pytest.raises(PermissionDenied):
        export.export_audience(workspace, analyst, tmp_path / "a.csv", ids, columns=["email"])
    out = export.export_audience(workspace, analyst, tmp_path / "a.csv", ids, columns=["profile_id", "email"],
                                 hash_format="sha256")
    assert out["columns"] == ["profile_id", "email_sha256"]
    with pytest.raises(ValueError, match="Unknown column"):
        export.export_audience(workspace, admin, tmp_path / "a.csv", ids, columns=["password"])
    with pytest.raises(ValueError, match="CSV or Parquet"):
        export.export_audience(workspace, admin, tmp_path / "a.xlsx", ids)


def test_cli_export_of_a_tag(workspace, tmp_path, monkeypatch, capsys):
    add_people(workspace, 3)
    with workspace.transaction() as con:
        con.execute("INSERT INTO profile_tags (profile_id, tag) VALUES ('p0000', 'vip'), ('p0002', 'vip')")
    monkeypatch.setenv("CDP_WORKSPACE", str(workspace.path))
    assert cli(["audience", "export", "tag:vip", "--out", str(tmp_path / "vip.csv")]) == 0
    assert [r["profile_id"] for r in read_csv(tmp_path / "vip.csv")] == ["p0000", "p0002"]
    assert "Wrote 2 rows" in capsys.readouterr().out
    assert cli(["audience", "export", "tag:vip", "--out", str(tmp_path / "x.csv"), "--columns", "nope"]) == 1
