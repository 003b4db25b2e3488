"""The login form takes hostile usernames as plain data: refused, audited as text, no error."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import DEMO_PASSWORDS, ROOT
from tests.security.seed import SQLI, XSS
from tests.app_timeout import APP_TIMEOUT

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py

HOSTILE = ["admin' OR '1'='1", "admin\" --", SQLI[0], XSS[0], "../../etc/passwd", "admin\x00", "a" * 5000]


def _try_login(username: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=APP_TIMEOUT).run()
    at.text_input[0].input(username)
    at.text_input[1].input(DEMO_PASSWORDS["admin"])
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


@pytest.mark.parametrize("username", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_username_is_refused_without_error(app_env, username):
    at = _try_login(username)
    assert at.session_state["authentication_status"] is not True
    assert not any(getattr(e, "label", None) == "Log out" for e in at.sidebar)
    shown = " ".join(str(e.value) for e in at.error)
    assert "Traceback" not in shown and "duckdb" not in shown.lower()
    failed = app_env.query_df("SELECT target FROM audit_log WHERE action = 'login.failed'")
    assert len(failed) == 1        # audited once, as data, with the name that was tried
    assert failed["target"][0] == username.strip().lower()[:100]


@pytest.mark.parametrize("username", [" admin ", "ADMIN"])
def test_case_and_space_variants_reach_only_the_same_account(app_env, username):
    """The login strips and lower-cases usernames: still admin, never someone else."""
    at = _try_login(username)
    assert at.session_state["authentication_status"] is True
    assert at.session_state["username"] == "admin"
