import pytest
import json
import zipfile

from engine.cli.main import main
from tests.engine.test_privacy import JANE, _seed

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py


def test_cli_export_then_erase(workspace, tmp_path, monkeypatch, capsys):
    _seed(workspace)
    monkeypatch.setenv("CDP_WORKSPACE", str(workspace.path))
    out = tmp_path / "jane.zip"
    assert main(["privacy", "export", "--email", JANE, "--out", str(out)]) == 0
    assert "contacts.csv" in zipfile.ZipFile(out).namelist()
    capsys.readouterr()
    assert main(["privacy", "erase", "--email", JANE, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["contacts"] == 1
    assert main(["privacy", "requests"]) == 0
    listing = capsys.readouterr().out
    assert "erasure" in listing and "access" in listing and JANE not in listing


def test_cli_refuses_analyst(workspace, monkeypatch, capsys):
    _seed(workspace)
    monkeypatch.setenv("CDP_WORKSPACE", str(workspace.path))
    monkeypatch.setenv("CDP_ROLE", "analyst")
    assert main(["privacy", "erase", "--email", JANE]) == 1
    assert "may not" in capsys.readouterr().err
    assert workspace.scalar("SELECT count(*) FROM contacts") == 2


def test_cli_erase_reports_files_and_lists_destination_deletions(workspace, tmp_path, monkeypatch, capsys):
    _seed(workspace)
    monkeypatch.setenv("CDP_WORKSPACE", str(workspace.path))
    monkeypatch.setenv("CDP_SECRETS_FILE", str(tmp_path / "none.toml"))
    with workspace.transaction() as con:   # p1 was sent to a webhook whose secret is not configured
        con.execute("INSERT INTO activation_destinations (name, kind, settings) VALUES "
                    "('hook', 'webhook', '{\"base_url\": \"http://127.0.0.1:9\"}')")
        con.execute("INSERT INTO privacy_recipients (destination, profile_id) VALUES ('hook', 'p1')")
    assert main(["privacy", "erase", "--email", JANE, "--no-compact"]) == 0
    out = capsys.readouterr().out
    assert "file landing/crm.csv: rewritten" in out
    assert "destination hook (webhook)" in out and "failed" in out and "--retry" in out
    assert main(["privacy", "removals"]) == 0
    listing = capsys.readouterr().out
    assert "hook" in listing and "failed" in listing and JANE not in listing
    assert main(["privacy", "removals", "--retry"]) == 1      # still no secret: still failed, and says so
    assert "failed" in capsys.readouterr().out
