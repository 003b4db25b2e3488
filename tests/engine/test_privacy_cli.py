import json
import zipfile

from engine.cli.main import main
from tests.engine.test_privacy import JANE, _seed


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
