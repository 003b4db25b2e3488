"""The Identity screen: every button (review, undo, skip, keyboard, bulk, resolve, unmerge, undo unmerge,
preview, save settings) runs without an exception; calibration and household evidence are shown;
analyst is read-only."""
import numpy as np
import pytest

from engine.access import User
from engine.derived import stale
from engine.identity import resolve, review
from engine.identity.settings import save_settings
from tests.app_pages.jobs_helpers import wait_for_jobs
from tests.app_pages.lazy_tabs import has_widget, open_tab
from tests.engine.identity_helpers import add_contacts
from tests.engine.test_identity_resolve import _noise
from tests.engine.test_identity_review import AMBIGUOUS

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py

ADMIN = User("admin", "admin")
SCREEN_BUTTONS = {"identity_run", "identity_accept", "identity_reject", "identity_skip", "identity_undo",
                  "identity_bulk_accept", "identity_bulk_reject", "identity_split_groups", "identity_split_all",
                  "identity_undo_split_btn", "identity_preview"}


def _seed(ws):
    add_contacts(ws, AMBIGUOUS + _noise(20) + [dict(source="crm", source_record_id=f"f{i}", email="fam@shop.io", first_name=n)
                                  for i, n in enumerate(["Al", "Bea"])])
    save_settings(ws, ADMIN, {"low_threshold": 0.01, "high_threshold": 0.999})
    resolve(ws, ADMIN)


def _button(at, key):
    return next(b for b in at.button if b.key == key)


def _click(at, key):
    _button(at, key).click().run()
    assert not at.exception, f"{key}: {at.exception}"


def _submit(at, label):
    next(b for b in at.button if b.label == label).click().run()
    assert not at.exception, f"{label}: {at.exception}"


@pytest.mark.slow
def test_review_accept_undo_and_resolve(logged_in_app, app_env):
    _seed(app_env)
    at = logged_in_app("marketer", "app_pages/identity.py")
    assert at.title[0].value == "Identity"
    queued = app_env.scalar("SELECT count(*) FROM identity_review_queue(0.01, 0.999)")
    assert queued >= 2
    _click(at, "identity_accept")
    assert app_env.scalar("SELECT count(*) FROM identity_decisions WHERE decision = 'accept'") == 1
    assert app_env.scalar("SELECT decided_by FROM identity_decisions") == "marketer"
    _click(at, "identity_undo")
    assert app_env.scalar("SELECT count(*) FROM identity_decisions WHERE undone_at IS NULL") == 0
    _click(at, "identity_undo")                                    # nothing left to undo: a toast, no error
    _click(at, "identity_reject")
    assert app_env.scalar("SELECT count(*) FROM identity_decisions WHERE decision = 'reject' AND undone_at IS NULL") == 1
    _click(at, "identity_run")                   # a background job: the page shows its progress
    assert wait_for_jobs(app_env)
    at.run()
    assert not at.exception, at.exception
    assert any("Resolved" in s.value and "by marketer" in s.value for s in at.success)
    assert app_env.scalar("SELECT count(*) FROM identity_runs") == 2
    assert stale(app_env) == []                  # the job refreshed what screens read


def test_keyboard_skip_preview_and_save_settings(logged_in_app, app_env):
    _seed(app_env)
    at = logged_in_app("admin", "app_pages/identity.py")
    first = at.subheader[0].value
    at.text_input(key="identity_key_cmd").input("s")
    _submit(at, "Go")
    assert len(at.session_state["identity_skipped"]) == 1
    _click(at, "identity_skip")
    assert len(at.session_state["identity_skipped"]) == 2 and at.subheader[0].value != first
    open_tab(at, "identity_tab", "Settings")
    _click(at, "identity_preview")
    assert at.session_state["identity_preview_result"]["profiles_now"] == app_env.scalar("SELECT count(*) FROM profiles")
    assert any("would merge" in m.value for m in at.markdown)
    at.slider(key="identity_thresholds").set_value((0.05, 0.99))
    _submit(at, "Save settings")
    assert app_env.scalar("SELECT json_extract(value, '$.high_threshold')::DOUBLE FROM settings "
                          "WHERE key = 'identity'") == 0.99


def test_unmerge_buttons_and_undo(logged_in_app, app_env):
    _seed(app_env)
    at = logged_in_app("admin", "app_pages/identity.py")
    pid = app_env.scalar("SELECT profile_id FROM profile_members WHERE source_record_id = 'f0'")
    assert not has_widget(at, "text_input", "identity_unmerge_pid")   # lazy tabs: Unmerge has not run
    open_tab(at, "identity_tab", "Unmerge")
    assert not at.exception, at.exception
    at.text_input(key="identity_unmerge_pid").input(pid).run()
    _click(at, "identity_split_groups")                            # every record in group 1: told, not split
    assert any("two groups" in e.value for e in at.error)
    _click(at, "identity_split_all")
    assert app_env.scalar("SELECT count(DISTINCT profile_id) FROM profile_members WHERE source_record_id IN ('f0', 'f1')") == 2
    _click(at, "identity_undo_split_btn")
    assert app_env.scalar("SELECT count(*) FROM identity_splits WHERE undone_at IS NULL") == 0


def test_bulk_band_defaults_to_estimated_precision_and_buttons_run(logged_in_app, app_env):
    _seed(app_env)
    at = logged_in_app("admin", "app_pages/identity.py")
    band = review.bulk_accept_band(app_env, ADMIN)
    expected = (band["low"], 1.0) if band["low"] is not None else (1.0, 1.0)
    assert tuple(at.slider(key="identity_bulk_range").value) == expected
    at.slider(key="identity_bulk_range").set_value((0.0, 1.0)).run()
    _click(at, "identity_bulk_reject")
    assert app_env.scalar("SELECT count(*) FROM identity_decisions WHERE decision = 'reject'") >= 2
    for decision_id in app_env.query_df("SELECT decision_id FROM identity_decisions")["decision_id"]:
        review.undo(app_env, ADMIN, int(decision_id))
    at.run()
    at.slider(key="identity_bulk_range").set_value((0.0, 1.0)).run()
    _click(at, "identity_bulk_accept")
    assert app_env.scalar("SELECT count(*) FROM identity_decisions WHERE decision = 'accept'") >= 1


def test_every_screen_button_is_exercised():
    """Control: the tests above click every keyed button the screen draws."""
    import ast
    import pathlib

    source = pathlib.Path(__file__).resolve().parents[2] / "app_pages" / "identity.py"
    keys = {node.value for node in ast.walk(ast.parse(source.read_text()))
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("identity_")}
    drawn = {k for k in keys if k.endswith(("_btn", "_accept", "_reject", "_skip", "_undo", "_run", "_preview",
                                            "_groups", "_all"))}
    assert drawn <= SCREEN_BUTTONS | {"identity_bulk_"}, drawn - SCREEN_BUTTONS


def test_household_and_calibration_are_shown(logged_in_app, app_env):
    line = "+44 20 7946 0111"
    add_contacts(app_env, [dict(source="home", source_record_id=n, first_name=n, last_name="Reed", phone=line,
                                address_line1="4 Elm Row", city="Leeds") for n in ("Al", "Bea", "Cy")] + _noise(20))
    save_settings(app_env, ADMIN, {"low_threshold": 0.0001, "high_threshold": 0.999, "min_labels": 4})
    resolve(app_env, ADMIN)
    at = logged_in_app("admin", "app_pages/identity.py")
    at.selectbox(key="identity_q_source").set_value("home").run()
    assert not at.exception, at.exception
    assert any("Shares a phone with 3 people named Al, Bea and Cy" in w.value for w in at.warning)
    open_tab(at, "identity_tab", "Health")
    assert not at.exception, at.exception
    assert any("identity_sizes" in c.proto.id for c in at.get("plotly_chart"))
    assert not any("identity_calibration" in c.proto.id for c in at.get("plotly_chart"))
    # Reviewer labels on the queue, enough of both kinds to fit a calibration: the Health tab charts it.
    queue = review.review_queue(app_env, ADMIN, limit=1000)
    rng = np.random.default_rng(1)
    for key, p in zip(queue["pair_key"], queue["probability"].fillna(0.5)):
        review.decide(app_env, ADMIN, key, "accept" if rng.uniform() < p else "reject", retrain=False)
    review.retrain(app_env, ADMIN)
    at.run()
    assert not at.exception, at.exception
    assert any("identity_calibration" in c.proto.id for c in at.get("plotly_chart"))


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
