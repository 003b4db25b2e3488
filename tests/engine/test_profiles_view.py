import pytest

from engine.access import PermissionDenied, audit_entries
from engine.profiles import (
    NoteError, ProfileNotFound, add_note, add_tag, delete_note, profile_timeline, profile_view, remove_tag,
)
from tests.engine.journey_data import build

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py


@pytest.fixture
def ws(workspace):
    build(workspace)
    return workspace


def test_golden_record_with_sources(ws, admin):
    view = profile_view(ws, admin, "P1")
    golden = view.golden.set_index("field")
    assert golden.loc["email", "value"] == "alice.smith@example.com"
    assert golden.loc["email", "source"] == "crm" and golden.loc["email", "rule"] == "most recent"
    assert golden.loc["country", "value"] == "GB" and golden.loc["country", "source"] is None
    assert view.display_name == "Alice Smith"


def test_headline_figures(ws, admin):
    h = profile_view(ws, admin, "P1").headline
    assert h["orders"] == 1 and h["revenue"] == 100 and h["average_order_value"] == 100
    assert h["subscription_status"] == "active" and h["subscription_plan"] == "Pro"
    assert h["lead_stage"] == "customer"                     # the stage change beats the contact's 'lead'
    assert h["rfm_segment"] == "Champions" and h["predicted_clv"] == 420.0
    assert h["churn_risk"] == pytest.approx(0.2)
    empty = profile_view(ws, admin, "P2").headline
    assert empty["orders"] == 0 and empty["average_order_value"] is None and empty.get("rfm_segment") is None


def test_records_identifiers_consent(ws, admin):
    view = profile_view(ws, admin, "P1")
    kinds = view.records.groupby("kind").size().to_dict()
    assert kinds == {"consent": 3, "contact": 1, "order": 1, "subscription": 1}
    crm = view.records[view.records["kind"] == "contact"].iloc[0]
    assert crm["file_name"] == "crm_export.csv" and crm["summary"] == "lead"
    assert set(view.identifiers["id_type"]) == {"email", "phone", "anonymous_id", "customer_id", "user_id"}
    consent = view.consent.set_index("purpose")["granted"].to_dict()
    assert consent == {"advertising": True, "email": False}  # email withdrawn later


def test_records_of_a_resolved_profile_carry_their_fields(workspace, admin):
    """profile_members as resolve() writes it: every record shows its name, email, summary and file."""
    from engine.identity import resolve
    from tests.engine.identity_helpers import add_contacts, profile_of

    with workspace.transaction() as con:
        con.execute("INSERT INTO loads (load_id, source, kind, file_name, rows_read, rows_loaded) "
                    "VALUES (3, 'crm', 'contacts', 'crm.csv', 2, 2)")
    add_contacts(workspace, [dict(source="crm", source_record_id="c1", email="ann@x.io", first_name="Ann"),
                             dict(source="crm", source_record_id="c2", email="ann@x.io", first_name="Ann",
                                  last_name="Lee")])
    with workspace.transaction() as con:
        con.execute("UPDATE contacts SET load_id = 3, lead_stage = 'lead'")
        con.execute("INSERT INTO orders (source, source_record_id, order_id, ordered_at, amount, currency, email) "
                    "VALUES ('shop', 'o1', 'o1', now(), 12.5, 'EUR', 'ann@x.io')")
    resolve(workspace, admin)
    records = profile_view(workspace, admin, profile_of(workspace, "crm", "c1")).records
    assert sorted(records["kind"]) == ["contact", "contact", "order"]
    assert records["email"].tolist() == ["ann@x.io"] * 3
    contacts = records[records["kind"] == "contact"]
    assert set(contacts["first_name"]) == {"Ann"} and set(contacts["file_name"]) == {"crm.csv"}
    assert set(contacts["summary"]) == {"lead"}
    assert records[records["kind"] == "order"]["summary"].iloc[0].startswith("o1 · 12.5")


def test_every_view_is_audited_and_masked_for_analysts(ws, admin, analyst):
    profile_view(ws, admin, "P1")
    masked = profile_view(ws, analyst, "P1")
    golden = masked.golden.set_index("field")["value"]
    assert golden["email"] != "alice.smith@example.com" and golden["country"] == "GB"
    ids = masked.identifiers.set_index("id_type")["id_value"]
    assert ids["email"] != "alice.smith@example.com" and ids["anonymous_id"] == "a1"
    assert "alice" not in " ".join(masked.records["email"].dropna())
    log = audit_entries(ws, admin, action="profile.view")
    assert log["username"].tolist() == ["analyst", "admin"] and set(log["target"]) == {"P1"}


def test_unknown_profile(ws, admin):
    with pytest.raises(ProfileNotFound):
        profile_view(ws, admin, "nope")


def test_timeline_interleaves_everything(ws, admin):
    add_tag(ws, admin, "P1", "VIP")
    add_note(ws, admin, "P1", "Called about the Pro plan; call back Friday.")
    tl = profile_timeline(ws, admin, "P1")
    assert set(tl["type"]) == {"web", "order", "subscription", "crm", "consent", "tag", "note"}
    assert tl["at"].is_monotonic_decreasing
    web = tl[tl["type"] == "web"]
    # Anonymous events from before Alice identified are hers too; the u1/a2 event is hers, not Bob's.
    assert web["anonymous"].sum() == 2 and len(web) == 8
    assert "Viewed Account" in set(web["title"])
    bob = profile_timeline(ws, admin, "P2", types=["web"])
    assert "Viewed Account" not in set(bob["title"]) and len(bob) == 3
    only = profile_timeline(ws, admin, "P1", types=["order", "crm"])
    assert set(only["type"]) == {"order", "crm"}
    assert only[only["type"] == "crm"]["title"].iloc[0] == "Lead stage: customer"
    with pytest.raises(ValueError, match="Unknown timeline type"):
        profile_timeline(ws, admin, "P1", types=["gossip"])


def test_timeline_masks_free_text_for_analysts(ws, admin, analyst):
    add_note(ws, admin, "P1", "Prefers alice.smith@example.com and +44 7700 900001")
    note = profile_timeline(ws, analyst, "P1", types=["note"])["detail"].iloc[0]
    assert "alice.smith@example.com" not in note and "7700 900001" not in note


def test_tags_and_notes(ws, admin, marketer, analyst):
    assert add_tag(ws, marketer, "P2", "  Call   Back ") == "call back"
    add_tag(ws, marketer, "P2", "call back")                  # idempotent
    view = profile_view(ws, admin, "P2")
    assert view.tags["tag"].tolist() == ["call back"] and view.tags["created_by"].iloc[0] == "marketer"
    note_id = add_note(ws, marketer, "P2", "Asked for a refund")
    assert profile_view(ws, admin, "P2").notes.iloc[0]["body"] == "Asked for a refund"
    with pytest.raises(PermissionDenied):
        add_tag(ws, analyst, "P2", "x")
    with pytest.raises(PermissionDenied):
        add_note(ws, analyst, "P2", "x")
    with pytest.raises(NoteError, match="empty"):
        add_note(ws, marketer, "P2", "   ")
    with pytest.raises(NoteError, match="no profile"):
        add_tag(ws, marketer, "nobody", "vip")
    with pytest.raises(NoteError, match="letters"):
        add_tag(ws, marketer, "P2", "<script>")
    other = type(marketer)("other", "marketer")
    with pytest.raises(NoteError, match="author"):
        delete_note(ws, other, note_id)
    assert delete_note(ws, marketer, note_id) is True
    assert remove_tag(ws, marketer, "P2", "call back") is True
    assert profile_view(ws, admin, "P2").tags.empty
    actions = set(audit_entries(ws, admin)["action"])
    assert {"profile.tag", "profile.untag", "profile.note", "profile.note_delete"} <= actions


def test_segment_memberships_and_syncs(ws, admin):
    from engine.segments import create_segment, create_static_segment
    create_static_segment(ws, admin, "Call list", ["P1", "P3"])
    create_segment(ws, admin, "Britons", {"type": "group", "op": "all", "children": [
        {"type": "condition", "kind": "trait", "field": "country", "op": "equals", "value": "GB"}]})
    assert set(profile_view(ws, admin, "P1").segments["name"]) == {"Call list", "Britons"}
    assert profile_view(ws, admin, "P3").segments["name"].tolist() == ["Call list"]
    with ws.transaction() as con:
        con.execute("INSERT INTO activation_runs (run_id, audience_key, destination, mode, status) "
                    "VALUES (1, 'segment:x->meta', 'meta', 'diff', 'succeeded')")
        con.execute("INSERT INTO activation_run_rows VALUES (1, 'add', 0, 'P1', '{}')")
    syncs = profile_view(ws, admin, "P1").syncs
    assert syncs["destination"].tolist() == ["meta"] and syncs["op"].tolist() == ["add"]
    tl = profile_timeline(ws, admin, "P1", types=["sync"])
    assert tl["title"].tolist() == ["Sent to meta"]
