"""`cdp segment`: create from JSON, count, list, members to CSV, SQL, versions."""
from __future__ import annotations

import pytest
import csv
import json

from engine.cli.main import main
from tests.engine.test_segments_conditions import build_people, one

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py


def test_cli_round_trip(workspace, tmp_path, monkeypatch, capsys):
    build_people(workspace)
    monkeypatch.setenv("CDP_WORKSPACE", str(workspace.path))
    definition = tmp_path / "uk.json"
    definition.write_text(json.dumps(one("trait", field="country", op="equals", value="GB")))
    assert main(["segment", "create", "--from-json", str(definition), "--name", "UK"]) == 0
    assert "2 members" in capsys.readouterr().out
    assert main(["segment", "count", "UK"]) == 0
    assert capsys.readouterr().out.strip() == "2"
    assert main(["segment", "count", "--from-json", str(definition), "--reach"]) == 0
    assert json.loads(capsys.readouterr().out)["email"] == 1
    assert main(["segment", "list"]) == 0
    assert "UK" in capsys.readouterr().out
    out = tmp_path / "uk.csv"
    assert main(["segment", "members", "UK", "--out", str(out)]) == 0
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["profile_id"] for r in rows) == ["p1", "p3"]
    assert main(["segment", "sql", "UK"]) == 0
    sql = capsys.readouterr().out
    assert "FROM profiles p" in sql and "'GB'" in sql.split("-- parameters")[1]
    exported = tmp_path / "export.json"
    assert main(["segment", "export", "UK", "--out", str(exported)]) == 0
    assert main(["segment", "create", "--from-json", str(exported), "--name", "UK again"]) == 0
    assert main(["segment", "restore", "UK", "1"]) == 0
    assert main(["segment", "versions", "UK"]) == 0
    assert "restored from version 1" in capsys.readouterr().out
    assert main(["segment", "refresh"]) == 0
    assert main(["segment", "overlap", "UK", "UK again"]) == 0
    # bad input: one clear line, exit 1
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    assert main(["segment", "create", "--from-json", str(bad)]) == 1
    assert "not valid JSON" in capsys.readouterr().err
    monkeypatch.setenv("CDP_ROLE", "analyst")
    assert main(["segment", "sql", "UK"]) == 1
    assert "may not" in capsys.readouterr().err


def test_cli_edit_and_delete(workspace, tmp_path, monkeypatch, capsys):
    from engine.access import system_user
    from engine.activation.audiences import link_audience
    from engine.segments import audience_links, find_segment, get_segment, list_segments

    build_people(workspace)
    monkeypatch.setenv("CDP_WORKSPACE", str(workspace.path))
    uk = tmp_path / "uk.json"
    uk.write_text(json.dumps(one("trait", field="country", op="equals", value="GB")))
    vip = tmp_path / "vip.json"
    vip.write_text(json.dumps(one("tag", tag="vip")))
    assert main(["segment", "create", "--from-json", str(uk), "--name", "UK"]) == 0
    sid = find_segment(workspace, "UK")
    capsys.readouterr()
    assert main(["segment", "edit", "UK", "--from-json", str(vip), "--name", "VIPs", "--note", "now VIPs",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"segment_id": sid, "name": "VIPs", "version": 2, "members": 2}
    assert get_segment(workspace, sid)["definition"] == one("tag", tag="vip")
    assert main(["segment", "edit", "VIPs", "--description", "people we love"]) == 0
    assert "Saved version 3" in capsys.readouterr().out
    assert get_segment(workspace, sid)["description"] == "people we love"
    assert main(["segment", "edit", "VIPs"]) == 1                        # nothing to change
    assert "Nothing to change" in capsys.readouterr().err
    # a segment feeding an audience is only deleted with --force, and says what happens to the link
    key = link_audience(workspace, system_user(), "segment", sid, "sandbox", schedule="daily")
    assert main(["segment", "delete", "VIPs"]) == 1
    err = capsys.readouterr().err
    assert "feeds 1 audience link" in err and "--force" in err
    assert sid in set(list_segments(workspace)["segment_id"])
    assert main(["segment", "delete", "VIPs", "--force", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["segment_id"] == sid and out["audiences"][0]["audience_key"] == key
    assert "kept" in out["audience_links"]
    assert sid not in set(list_segments(workspace)["segment_id"])
    assert audience_links(workspace, sid)[0]["schedule"] == "manual"
    assert main(["segment", "create", "--from-json", str(uk), "--name", "Plain"]) == 0
    capsys.readouterr()
    assert main(["segment", "delete", "Plain"]) == 0
    assert "Deleted segment" in capsys.readouterr().out
    assert main(["segment", "delete", "Plain"]) == 1                     # gone
