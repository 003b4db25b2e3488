import pytest

from tests.app_pages.jobs_helpers import wait_for_jobs
from tests.app_pages.lazy_tabs import has_widget, open_tab
from tests.engine.test_privacy import JANE, _seed

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py


def test_privacy_screen_finds_and_erases_a_person(logged_in_app, app_env):
    _seed(app_env)
    at = logged_in_app("admin", "app_pages/privacy.py")
    at.text_input(key="dsr_value").input(JANE).run()
    assert any("Found 1 profile" in s.value for s in at.success)
    next(b for b in at.button if b.label == "Prepare access archive").click().run()
    assert at.session_state["dsr_archive"][:2] == b"PK"
    assert app_env.scalar("SELECT count(*) FROM privacy_requests WHERE kind = 'access'") == 1
    next(b for b in at.button if b.label == "Erase…").click().run()
    confirm = next(t for t in at.text_input if t.label == "Type ERASE to confirm")
    confirm.input("ERASE").run()
    erase = next(b for b in at.button if b.label == "Erase")
    assert not erase.disabled
    erase.click().run()
    assert not at.exception
    # The erasure runs as a background job; its result shows to whoever opens the screen.
    assert wait_for_jobs(app_env)
    at.run()
    assert not at.exception, at.exception
    assert any("Erasure request" in s.value and "by admin" in s.value for s in at.success)
    assert app_env.scalar("SELECT count(*) FROM contacts WHERE lower(email) = ?", [JANE]) == 0
    job_files = "".join(p.read_text() for p in (app_env.folder / "jobs").glob("*.json"))
    assert "erasure" in job_files and JANE not in job_files.lower()   # the job names nobody
    other = logged_in_app("admin", "app_pages/privacy.py")           # another session sees the result
    assert any("Erasure request" in s.value for s in other.success)
    assert app_env.scalar("SELECT count(*) FROM privacy_requests WHERE kind = 'erasure' AND status = 'done'") == 1
    assert not has_widget(at, "text_input", "consent_profile")   # lazy tabs: closed tabs do not run
    open_tab(at, "privacy_tab", "Request register")
    assert not at.exception, at.exception
    assert len(at.dataframe[0].value) == 2                        # the access and the erasure request
    for label in ("Consent", "Retention"):
        assert not open_tab(at, "privacy_tab", label).exception
    assert any(m.label == "Events past retention" for m in at.metric)


def test_privacy_screen_is_admin_only(logged_in_app):
    at = logged_in_app("marketer")
    with pytest.raises(ValueError):
        at.switch_page("app_pages/privacy.py")
