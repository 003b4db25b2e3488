"""`cdp segment`: create from JSON, count, list, members to CSV, SQL, versions."""
from __future__ import annotations

import csv
import json

from engine.cli.main import main
from tests.engine.test_segments_conditions import build_people, one


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
