"""No screen shows anything without a login, whichever way it is opened."""
import pytest
from streamlit.testing.v1 import AppTest

from tests.app_timeout import APP_TIMEOUT
from tests.conftest import ROOT

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py

SCREENS = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "app_pages").glob("*.py"))


def test_app_shows_no_navigation_before_login(app_env):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=APP_TIMEOUT).run()
    assert not at.exception
    assert at.session_state["authentication_status"] is None
    assert not at.sidebar.children or all(not getattr(e, "label", None) == "Log out" for e in at.sidebar)
    assert [t.label for t in at.text_input] == ["Username", "Password"]


@pytest.mark.parametrize("screen", SCREENS)
def test_screen_file_opened_directly_asks_for_login(app_env, screen):
    at = AppTest.from_file(str(ROOT / screen), default_timeout=APP_TIMEOUT).run()
    assert not at.exception
    assert [e.value for e in at.error] == ["Please log in."]
    assert not at.dataframe and not at.metric and not at.text_input
