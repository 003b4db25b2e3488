"""Audience links are keyed by segment id: the name, the id and the screen reach one link, a
rename keeps it, name-keyed links from before are moved onto ids, and a failed command saves
no setting."""
import pytest
from engine.activation import audiences, config, sync
from engine.cli.main import main
from engine.profiles.notes import add_tag, remove_tag
from engine.segments import create_segment, create_static_segment
from engine.segments.store import save_segment
from engine.workspace.migrations import available
from tests.engine.activation_data import add_people
from tests.engine.activation_fakes import TOKEN, FakePlatform
from tests.engine.test_sandbox_cli import cli  # noqa: F401  (the workspace the `cdp` command opens)

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py

BY_TAG = {"type": "group", "op": "all", "children": [{"type": "condition", "kind": "tag", "tag": "vip"}]}


def test_sync_by_name_then_dry_run_by_id_finds_nothing_to_add(cli, admin, capsys):
    seg = create_static_segment(cli, admin, "Spent over 200 in 365d", add_people(cli, 5))
    assert main(["audience", "sync", "Spent over 200 in 365d", "--destination", "sandbox"]) == 0
    assert "added 5" in capsys.readouterr().out
    assert main(["audience", "sync", seg, "--destination", "sandbox", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert '"to_add": 0' in out and '"at_destination_before": 5' in out
    # The screen links by id too: the same link, with the same five at the destination.
    key = audiences.link_audience(cli, admin, "segment", seg, "sandbox")
    assert key == f"segment:{seg}->sandbox"
    assert list(audiences.list_audiences(cli)["audience_key"]) == [key]
    assert audiences.list_audiences(cli)["segment_name"][0] == "Spent over 200 in 365d"


def test_a_renamed_segment_keeps_its_link_and_leavers_are_still_removed(cli, admin, capsys):
    ids = add_people(cli, 6)
    for pid in ids:
        add_tag(cli, admin, pid, "vip")
    seg = create_segment(cli, admin, "Big spenders", BY_TAG)
    assert main(["audience", "sync", "Big spenders", "--destination", "sandbox"]) == 0
    save_segment(cli, admin, seg, name="Top customers")
    for pid in ids[:2]:
        remove_tag(cli, admin, pid, "vip")
    capsys.readouterr()
    # The old name still reaches the segment's link (it was the segment's name before the rename).
    assert main(["audience", "sync", "Big spenders", "--destination", "sandbox"]) == 0
    assert "added 0, removed 2" in capsys.readouterr().out
    remove_tag(cli, admin, ids[2], "vip")
    out = sync.sync(cli, admin, audiences.link_audience(cli, admin, "segment", "Top customers", "sandbox"))
    assert (out["added"], out["removed"]) == (0, 1)
    assert len(audiences.list_audiences(cli)) == 1


def test_a_failing_sync_saves_no_schedule_and_a_succeeding_one_does(cli, admin, capsys, monkeypatch):
    create_static_segment(cli, admin, "Loyal", add_people(cli, 3))
    with FakePlatform("meta") as fake:
        config.add_destination(cli, admin, "meta", "meta", {"audience_id": "238", "base_url": fake.url})
        # No credentials: the command fails before sending.
        assert main(["audience", "sync", "Loyal", "--destination", "meta", "--schedule", "daily",
                     "--holdout", "10"]) == 1
        monkeypatch.setenv("CDP_DEST_META_ACCESS_TOKEN", TOKEN)
        # The platform refuses: the run fails, and the settings stay as they were.
        fake.fail(401)
        assert main(["audience", "sync", "Loyal", "--destination", "meta", "--schedule", "daily"]) == 1
        assert "not saved" in capsys.readouterr().out
        # A dry run saves no setting either.
        assert main(["audience", "sync", "Loyal", "--destination", "meta", "--schedule", "daily",
                     "--dry-run"]) == 0
        link = audiences.list_audiences(cli).iloc[0]
        assert (link["schedule"], link["holdout_pct"]) == ("manual", 0)
        assert main(["audience", "sync", "Loyal", "--destination", "meta", "--schedule", "daily"]) == 0
        assert audiences.list_audiences(cli).iloc[0]["schedule"] == "daily"


def test_links_keyed_by_a_name_move_onto_the_segment_id(workspace, admin):
    ids = add_people(workspace, 4)
    seg = create_static_segment(workspace, admin, "Loyal buyers", ids)
    old, new = "segment:Loyal buyers->sandbox", f"segment:{seg}->sandbox"
    with workspace.transaction() as con:     # as an earlier version left them: by name, and by id
        con.execute("INSERT INTO activation_audiences (audience_key, source_kind, source_id, destination, "
                    "schedule, holdout_pct) VALUES (?, 'segment', 'Loyal buyers', 'sandbox', 'daily', 0), "
                    "(?, 'segment', ?, 'sandbox', 'manual', 0)", [old, new, seg])
        con.execute("INSERT INTO activation_membership (audience_key, profile_id, member_json) "
                    "SELECT ?, unnest(?), '{}'", [old, ids[:3]])
        con.execute("INSERT INTO activation_membership (audience_key, profile_id, member_json) "
                    "SELECT ?, unnest(?), '{}'", [new, ids[2:]])
        con.execute("INSERT INTO activation_runs (run_id, audience_key, destination, mode, status) "
                    "VALUES (1, ?, 'sandbox', 'diff', 'succeeded')", [old])
        con.execute("INSERT INTO activation_holdouts (source_key, profile_id) VALUES ('segment:Loyal buyers', ?)",
                    [ids[0]])
        con.execute(next(m for m in available() if m.version == 76).sql())
    links = audiences.list_audiences(workspace)
    assert list(links["audience_key"]) == [new] and links["schedule"][0] == "daily"
    held = workspace.query_rows("SELECT profile_id FROM activation_membership WHERE audience_key = ? "
                                "ORDER BY 1", [new])
    assert [r[0] for r in held] == ids                      # what the destination holds, both links'
    assert workspace.scalar("SELECT count(*) FROM activation_membership WHERE audience_key = ?", [old]) == 0
    assert workspace.scalar("SELECT audience_key FROM activation_runs WHERE run_id = 1") == new
    assert workspace.scalar("SELECT source_key FROM activation_holdouts") == f"segment:{seg}"
    dry = sync.dry_run(workspace, admin, new)
    assert (dry["at_destination_before"], dry["to_remove"]) == (4, 0)   # nobody is lost for removal
