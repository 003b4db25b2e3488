"""`cdp` with the sandbox destinations: listed, dry run, sync by segment name, forwarding help and a pass."""
import pytest

from engine.activation import sandbox_files
from engine.cli.main import main
from engine.segments import create_static_segment
from tests.engine.activation_data import add_people
from tests.engine.test_forward import seed

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py


@pytest.fixture
def cli(workspace, monkeypatch, tmp_path):
    monkeypatch.setenv("CDP_WORKSPACE", str(workspace.path))
    monkeypatch.setenv("CDP_SECRETS_FILE", str(tmp_path / "no-secrets.toml"))
    return workspace


def test_audience_sync_to_the_sandbox_by_segment_name(cli, admin, capsys):
    seg = create_static_segment(cli, admin, "Loyal buyers", add_people(cli, 4))
    assert main(["destinations", "list"]) == 0
    assert "sandbox" in capsys.readouterr().out
    assert main(["audience", "sync", "Loyal buyers", "--destination", "sandbox", "--dry-run"]) == 0
    assert '"to_add": 4' in capsys.readouterr().out
    folder = sandbox_files.audience_folder(cli.folder, f"segment:{seg}->sandbox")
    assert not folder.exists()
    assert main(["audience", "sync", "Loyal buyers", "--destination", "sandbox"]) == 0
    out = capsys.readouterr().out
    assert "added 4" in out and str(folder) in out
    assert len(list(folder.glob("*-add-1.json"))) == 1
    assert main(["audience", "history"]) == 0
    assert f"segment:{seg}->sandbox" in capsys.readouterr().out      # the link is keyed by the segment id


def test_forward_help_documents_the_sandbox_and_a_pass_writes_a_file(cli, capsys):
    with pytest.raises(SystemExit):
        main(["forward", "--help"])
    assert "cdp forward map sandbox" in capsys.readouterr().out
    seed(cli, n_orders=1)
    assert main(["forward", "map", "sandbox", "--match", "Order Completed", "--as", "Purchase"]) == 0
    assert main(["forward", "--once", "--destination", "sandbox"]) == 0
    folder = cli.folder / "sandbox" / "conversions"
    assert str(folder) in capsys.readouterr().out
    assert len(list(folder.glob("*.json"))) == 1
