"""The Identity screen: review a pair, undo, bulk, run resolution, preview thresholds, unmerge; analyst is read-only."""
from engine.access import User
from engine.identity import resolve
from engine.identity.settings import save_settings
from tests.engine.identity_helpers import add_contacts
from tests.engine.test_identity_resolve import _noise
from tests.engine.test_identity_review import AMBIGUOUS

ADMIN = User("admin", "admin")


def _seed(ws):
    add_contacts(ws, AMBIGUOUS + _noise(20) + [dict(source="crm", source_record_id=f"f{i}", email="fam@shop.io", first_name=n)
                                  for i, n in enumerate(["Al", "Bea"])])
    save_settings(ws, ADMIN, {"low_threshold": 0.01, "high_threshold": 0.999})
    resolve(ws, ADMIN)


def _button(at, key):
    return next(b for b in at.button if b.key == key)


def test_review_accept_undo_and_resolve(logged_in_app, app_env):
    _seed(app_env)
    at = logged_in_app("marketer", "app_pages/identity.py")
    assert at.title[0].value == "Identity"
    queued = app_env.scalar("SELECT count(*) FROM identity_review_queue(0.01, 0.999)")
    assert queued >= 2
    _button(at, "identity_accept").click().run()
    assert not at.exception, at.exception
    assert app_env.scalar("SELECT count(*) FROM identity_decisions WHERE decision = 'accept'") == 1
    assert app_env.scalar("SELECT decided_by FROM identity_decisions") == "marketer"
    _button(at, "identity_undo").click().run()
    assert app_env.scalar("SELECT count(*) FROM identity_decisions WHERE undone_at IS NULL") == 0
    _button(at, "identity_reject").click().run()
    _button(at, "identity_run").click().run()
    assert not at.exception, at.exception
    assert any("Resolved" in s.value for s in at.success)
    assert app_env.scalar("SELECT count(*) FROM identity_runs") == 2


def test_keyboard_skip_preview_and_unmerge(logged_in_app, app_env):
    _seed(app_env)
    at = logged_in_app("admin", "app_pages/identity.py")
    first = at.subheader[0].value
    at.text_input(key="identity_key_cmd").input("s")
    next(b for b in at.button if "FormSubmitter:identity_keys" in str(b.id) or b.label == "Go").click().run()
    assert not at.exception, at.exception
    assert len(at.session_state["identity_skipped"]) == 1
    _button(at, "identity_preview").click().run()
    assert "identity_preview" in at.session_state
    pid = app_env.scalar("SELECT profile_id FROM profile_members WHERE source_record_id = 'f0'")
    at.text_input(key="identity_unmerge_pid").input(pid).run()
    _button(at, "identity_split_all").click().run()
    assert not at.exception, at.exception
    assert app_env.scalar("SELECT count(DISTINCT profile_id) FROM profile_members WHERE source_record_id IN ('f0', 'f1')") == 2
    assert first


def test_analyst_sees_masked_queue_without_actions(logged_in_app, app_env):
    _seed(app_env)
    at = logged_in_app("analyst", "app_pages/identity.py")
    assert not at.exception
    keys = {b.key for b in at.button}
    assert "identity_accept" not in keys and "identity_run" not in keys
    assert at.dataframe  # the queue and health tables render


def test_empty_workspace_renders(logged_in_app):
    at = logged_in_app("admin", "app_pages/identity.py")
    assert not at.exception
    assert any("Nothing to review" in i.value for i in at.info)
