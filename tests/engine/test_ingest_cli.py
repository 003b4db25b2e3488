"""`cdp ingest`, `cdp quarantine list/export` and `cdp sources` from the command line."""
import json
import subprocess
import sys

import pytest

from engine.cli.main import main


@pytest.fixture
def cli_ws(workspace, monkeypatch):
    monkeypatch.setenv("CDP_WORKSPACE", str(workspace.path))
    return workspace


def test_ingest_json_prints_exactly_the_four_figures(cli_ws, tmp_path, capsys):
    path = tmp_path / "c.csv"
    path.write_text("Ref,Mail,Nick,Birthday\nR1,a@x.com,Al,1990-13-45\nR2,,Bo,\nR3,c@x.com,Cy,1985-02-03\n")
    code = main(["ingest", "contacts", str(path), "--source", "CRM", "--id-column", "Ref",
                 "--map", "Mail=email", "--map", "Nick=first_name", "--map", "Birthday=date_of_birth",
                 "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out) == ["rows_read", "rows_loaded", "rows_quarantined", "warnings"]
    assert (out["rows_read"], out["rows_loaded"], out["rows_quarantined"]) == (3, 2, 1)
    assert len(out["warnings"]) == 1 and "date_of_birth" in out["warnings"][0]
    assert dict(cli_ws.query_rows("SELECT source_record_id, first_name FROM contacts")) == {"R1": "Al", "R3": "Cy"}


def test_ingest_without_map_uses_the_suggestion(cli_ws, tmp_path, capsys):
    path = tmp_path / "o.tsv"
    path.write_text("Order Number\tOrder Date\tTotal\tE-mail\n1001\t2024-01-05\t12.50\ta@x.com\n")
    assert main(["ingest", "orders", str(path), "--source", "Shop"]) == 0
    assert "read 1 rows, loaded 1" in capsys.readouterr().out
    assert cli_ws.query_rows("SELECT order_id, amount, email FROM orders") == [("1001", 12.5, "a@x.com")]


@pytest.mark.parametrize("content", [b"", b"\x00\x01\x02\x03binary\x00" * 50, b"email\n"])
def test_unreadable_file_exits_non_zero_with_one_line_and_changes_nothing(cli_ws, tmp_path, content):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    before = cli_ws.table_counts()
    proc = subprocess.run([sys.executable, "-m", "engine.cli.main", "ingest", "contacts", str(path),
                           "--source", "CRM", "--json"], capture_output=True, text=True,
                          env={"CDP_WORKSPACE": str(cli_ws.path), "PATH": "/usr/bin:/bin"})
    assert proc.returncode != 0
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cdp: error: ")
    assert cli_ws.table_counts() == before


def test_bad_map_argument_is_refused(cli_ws, tmp_path, capsys):
    path = tmp_path / "c.csv"
    path.write_text("email\na@x.com\n")
    assert main(["ingest", "contacts", str(path), "--source", "CRM", "--map", "email"]) == 1
    assert "SRC_COLUMN=FIELD" in capsys.readouterr().err


def test_quarantine_list_and_export(cli_ws, tmp_path, capsys):
    path = tmp_path / "c.csv"
    path.write_text("email,name\n,Nobody\nok@x.com,Ok\n")
    main(["ingest", "contacts", str(path), "--source", "CRM", "--json"])
    capsys.readouterr()
    assert main(["quarantine", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(r["source"], r["row_number"]) for r in listed] == [("CRM", 1)]
    assert listed[0]["reason"].startswith("no usable identifier")
    out = tmp_path / "q.csv"
    assert main(["quarantine", "export", "--out", str(out)]) == 0
    text = out.read_text()
    assert "Nobody" in text and text.splitlines()[0].startswith("load_id,source")
    assert cli_ws.scalar("SELECT count(*) FROM audit_log WHERE action = 'quarantine.export'") == 1


def test_sources_create_prints_write_key_for_events(cli_ws, capsys):
    assert main(["sources", "create", "Website", "--kind", "events"]) == 0
    assert "Write key: wk_" in capsys.readouterr().out
    assert main(["sources", "list"]) == 0
    assert "Website" in capsys.readouterr().out
