"""`cdp ingest`, `cdp quarantine list/export` and `cdp sources` from the command line."""
import json
import subprocess
import sys

import pytest

from engine.cli.main import main
from tests.engine.workbooks import workbook_bytes


@pytest.fixture
def cli_ws(workspace, monkeypatch):
    monkeypatch.setenv("CDP_WORKSPACE", str(workspace.path))
    return workspace


def test_ingest_json_prints_the_four_figures_then_the_mapping(cli_ws, tmp_path, capsys):
    path = tmp_path / "c.csv"
    path.write_text("Ref,Mail,Nick,Birthday\nR1,a@x.com,Al,1990-13-45\nR2,,Bo,\nR3,c@x.com,Cy,1985-02-03\n")
    code = main(["ingest", "contacts", str(path), "--source", "CRM", "--id-column", "Ref",
                 "--map", "Mail=email", "--map", "Nick=first_name", "--map", "Birthday=date_of_birth",
                 "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out)[:4] == ["rows_read", "rows_loaded", "rows_quarantined", "warnings"]
    assert out["mapping"] == {"Ref": "source_record_id", "Mail": "email", "Nick": "first_name",
                              "Birthday": "date_of_birth"}
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


LEADS = ("Lead Owner,First Name,Last Name,Company / Account,Email,Mobile,Phone,Zip/Postal Code,Lead Status\n"
         "Sam Rep,Ann,Lee,Acme,ann@x.com,07700 900001,,LS1 4AB,Open\n"
         "Sam Rep,Bob,Ng,Beta,bob@x.com,07700 900002,,M1 1AA,Working\n")


def test_one_map_overrides_only_its_column(cli_ws, tmp_path, capsys):
    """--map Phone=phone moves phone from the suggested Mobile and leaves every other suggestion."""
    path = tmp_path / "salesforce_leads.csv"
    path.write_text(LEADS)
    assert main(["ingest", "contacts", str(path), "--source", "SF", "--map", "Phone=phone", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["rows_loaded"], out["rows_quarantined"]) == (2, 0)
    assert out["mapping"]["Phone"] == "phone" and out["mapping"]["Mobile"] is None
    assert out["mapping"]["Email"] == "email" and out["mapping"]["Zip/Postal Code"] == "postcode"
    assert out["mapping"]["Lead Owner"] == "owner"
    rows = cli_ws.query_rows("SELECT email, first_name, postcode, owner FROM contacts ORDER BY email")
    assert rows == [("ann@x.com", "Ann", "LS1 4AB", "Sam Rep"), ("bob@x.com", "Bob", "M1 1AA", "Sam Rep")]


def test_the_final_mapping_is_printed(cli_ws, tmp_path, capsys):
    path = tmp_path / "salesforce_leads.csv"
    path.write_text(LEADS)
    assert main(["ingest", "contacts", str(path), "--source", "SF", "--map", "Company / Account=traits"]) == 0
    printed = capsys.readouterr().out
    assert "mapping: " in printed and "Mobile -> phone" in printed and "Company / Account -> traits" in printed


def _workbook(path, sheets: dict):
    path.write_bytes(workbook_bytes(sheets))


def test_sheet_by_name_and_all_sheets(cli_ws, tmp_path, capsys):
    path = tmp_path / "book.xlsx"
    _workbook(path, {"Notes": [["read me"], ["nothing here"]],
                     "Shop": [["Email", "First Name"], ["a@x.com", "Al"]],
                     "Fair": [["Email", "First Name"], ["b@x.com", "Bo"], ["c@x.com", "Cy"]]})
    assert main(["ingest", "contacts", str(path), "--source", "Shop", "--sheet", "Shop", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rows_loaded"] == 1 and out["mapping"]["Email"] == "email"
    assert main(["ingest", "contacts", str(path), "--source", "Stalls", "--sheet", "Nope"]) == 1
    assert "no sheet 'Nope'" in capsys.readouterr().err
    # every sheet; the one without an identifier is refused, so load the two people sheets' workbook
    path2 = tmp_path / "two.xlsx"
    _workbook(path2, {"Shop": [["Email", "First Name"], ["a@x.com", "Al"]],
                      "Fair": [["Email", "First Name"], ["b@x.com", "Bo"], ["c@x.com", "Cy"]]})
    assert main(["ingest", "contacts", str(path2), "--source", "Stalls", "--all-sheets", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rows_loaded"] == 3 and [s["sheet"] for s in out["sheets"]] == ["Shop", "Fair"]
    assert cli_ws.scalar("SELECT count(*) FROM contacts WHERE source = 'Stalls'") == 3
    # loading the workbook again changes nothing, sheet by sheet
    assert main(["ingest", "contacts", str(path2), "--source", "Stalls", "--all-sheets", "--json"]) == 0
    assert cli_ws.scalar("SELECT count(*) FROM contacts WHERE source = 'Stalls'") == 3
    assert cli_ws.scalar("SELECT count(*) FROM loads WHERE source = 'Stalls'") == 2


def test_map_can_move_the_record_id(cli_ws, tmp_path, capsys):
    path = tmp_path / "hubspot.csv"
    path.write_text("Record ID,Email,Legacy Ref,Lifecycle Stage\n901,eve@x.com,L-1,lead\n")
    assert main(["ingest", "contacts", str(path), "--source", "HS", "--map", "Legacy Ref=source_record_id",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["mapping"]["Legacy Ref"] == "source_record_id" and out["mapping"]["Record ID"] is None
    assert cli_ws.query_rows("SELECT source_record_id, email FROM contacts") == [("L-1", "eve@x.com")]


def test_a_sheet_that_cannot_load_is_named(cli_ws, tmp_path, capsys):
    path = tmp_path / "book.xlsx"
    _workbook(path, {"People": [["Email"], ["a@x.com"]], "Notes": [["read me"], ["nothing here"]]})
    assert main(["ingest", "contacts", str(path), "--source", "Book", "--all-sheets"]) == 1
    err = capsys.readouterr().err
    assert "Sheet 'Notes'" in err and "sheets loaded before it: People" in err
    assert cli_ws.scalar("SELECT count(*) FROM contacts") == 1
    csv_path = tmp_path / "c.csv"
    csv_path.write_text("email\na@x.com\n")
    assert main(["ingest", "contacts", str(csv_path), "--source", "Book", "--sheet", "People"]) == 1
    assert "Only an Excel workbook has sheets" in capsys.readouterr().err
