"""`cdp resolve`, `cdp profiles export`, `cdp review list|accept|reject|undo`."""
import pytest
import csv

from engine.cli.main import main
from tests.engine.identity_helpers import add_contacts
from tests.engine.test_identity_resolve import _noise
from tests.engine.test_identity_review import AMBIGUOUS

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py


def test_cli_resolve_export_review(workspace, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("CDP_WORKSPACE", str(workspace.path))
    add_contacts(workspace, AMBIGUOUS + _noise(20))
    assert main(["resolve", "--full"]) == 0
    assert '"profiles"' in capsys.readouterr().out
    out = tmp_path / "members.csv"
    assert main(["profiles", "export", "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == len(AMBIGUOUS) + 40 and {"profile_id", "source", "source_record_id"} <= set(rows[0])
    assert main(["review", "list", "--limit", "5"]) == 0
    listing = capsys.readouterr().out
    key = workspace.scalar("SELECT pair_key FROM identity_pairs ORDER BY uncertainty DESC LIMIT 1")
    assert main(["review", "accept", key, "--apply"]) == 0
    assert workspace.scalar("SELECT decision FROM identity_decisions") == "accept"
    assert main(["review", "undo"]) == 0
    assert main(["review", "reject", "no-such-key"]) == 1
    assert main(["review", "accept"]) == 1
    assert "pairs in the queue" in listing
