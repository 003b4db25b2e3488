"""Every screen rendered on the hostile workspace: an analyst sees no personal data in any
element, and no data reaches the page as unescaped HTML."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.security.seed import PII_VALUES, XSS


def _navigation() -> dict:
    """app.py's NAVIGATION, read without running the Streamlit script."""
    tree = ast.parse((ROOT / "app.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "NAVIGATION":
            return ast.literal_eval(node.value)
    raise AssertionError("NAVIGATION not found in app.py")


SCREENS = [(path, perm) for entries in _navigation().values() for path, _, _, perm in entries
           if (ROOT / path).exists()]
ANALYST_SCREENS = [p for p, perm in SCREENS if perm in ("view", "run_sql")]
ALL_SCREENS = [p for p, _ in SCREENS]


# Screens whose tabs run only when opened: (tab state key, every tab's label).
LAZY_TABS = {"app_pages/journeys.py": ("journey_tab", ["Funnels", "Attribution", "Cohorts", "Paths"]),
             "app_pages/segments.py": ("seg_tab", ["Builder", "Overlap", "Size over time"]),
             "app_pages/activation.py": ("activation_tab", ["Push", "History", "Export", "Destinations"]),
             "app_pages/admin.py": ("admin_tab", ["Users", "Audit log"]),
             "app_pages/conversions.py": ("conversions_tab", ["Event mappings", "Delivery", "Match quality"]),
             "app_pages/identity.py": ("identity_tab", ["Review queue", "Health", "Unmerge", "Settings"]),
             "app_pages/insights.py": ("insights_tab", ["Lifetime value", "RFM", "Cohorts", "Prediction accuracy",
                                                        "Churn risk"]),
             "app_pages/privacy.py": ("privacy_tab", ["Access and erasure", "Request register", "Consent",
                                                      "Retention"]),
             "app_pages/profiles.py": ("profiles_tab", ["Golden record", "Timeline", "Source records", "Identifiers",
                                                        "Segments and syncs"]),
             "app_pages/sources.py": ("sources_tab", ["Upload a file", "Sources and loads", "Quarantine",
                                                      "Events collector"])}


def each_tab(at, page: str):
    """The screen as it stands, then with each of its lazy tabs opened in turn (the last stays open)."""
    yield at
    key, labels = LAZY_TABS.get(page, (None, []))
    for label in labels:
        at.session_state[key] = label
        at.run()
        assert not at.exception, f"{page} {label}: {at.exception}"
        yield at


@pytest.fixture
def workspace(seeded):
    """Override the empty workspace: the app runs on the shared hostile one."""
    return seeded


def _walk(node):
    yield node
    children = getattr(node, "children", None)
    if isinstance(children, dict):
        for child in children.values():
            yield from _walk(child)


def _rendered(at) -> tuple[str, list]:
    """All text the app sent to the browser, and every node."""
    nodes = list(_walk(at._tree))
    parts = []
    for node in nodes:
        if getattr(node, "type", "") == "arrow_data_frame":
            parts.append(node.value.astype(str).to_csv())
        proto = getattr(node, "proto", None)
        if proto is not None:
            parts.append(str(proto).encode().decode("unicode_escape", errors="ignore"))
    return "\n".join(parts), nodes


def _exercise(at, page: str, query: str = "C003") -> None:   # Zebulon's customer id
    """Drive the screen's main read action where it has one."""
    if page.endswith("profiles.py"):
        at.text_input(key="profile_query").input(query).run()
        pick = at.selectbox(key="profile_pick")
        pick.select_index(1).run()
    elif page.endswith("sql.py"):
        at.text_area[0].input("SELECT email AS e, upper(first_name) AS f, traits FROM contacts "
                              "UNION ALL SELECT value, value, NULL FROM profile_identifiers").run()
        next(b for b in at.button if b.label == "Run").click().run()


@pytest.mark.parametrize("page", ANALYST_SCREENS)
def test_analyst_sees_no_personal_data_on(logged_in_app, page):
    at = logged_in_app("analyst", page)
    _exercise(at, page)
    assert not at.exception, at.exception
    text = "\n".join(_rendered(view)[0] for view in each_tab(at, page))
    leaked = [v for v in PII_VALUES if v.lower() in text.lower()]
    assert not leaked, f"{page} shows {leaked}"


def test_analyst_profile_screen_really_opened_a_profile(logged_in_app):
    at = logged_in_app("analyst", "app_pages/profiles.py")
    _exercise(at, "app_pages/profiles.py")
    assert at.session_state["profile_open"]
    assert at.dataframe, "the 360 view should show tables"


def test_the_leak_check_can_fail(logged_in_app):
    """Control: the same walk over an admin's profile screen finds the personal data."""
    at = logged_in_app("admin", "app_pages/profiles.py")
    _exercise(at, "app_pages/profiles.py")
    text, _ = _rendered(at)
    assert "Zebulon" in text and "zebulon.quixotic@example.org" in text


@pytest.mark.parametrize("page", ALL_SCREENS)
def test_no_data_rendered_as_html_for_admin(logged_in_app, page):
    at = logged_in_app("admin", page)
    _exercise(at, page, "C001")   # the person whose name is <script>…</script> <img …>
    assert not at.exception, at.exception
    views = [_rendered(view) for view in each_tab(at, page)]
    text = "\n".join(t for t, _ in views)
    if page.endswith(("profiles.py", "sql.py")):   # the payloads really were on the page, as text
        assert XSS[0] in text and XSS[1] in text
    for node in (n for _, nodes in views for n in nodes):
        proto = getattr(node, "proto", None)
        kind = getattr(node, "type", "")
        if proto is None:
            continue
        body = str(getattr(proto, "body", "") or "")
        if kind == "markdown" and getattr(proto, "allow_html", False):
            assert not any(p in body for p in XSS), f"{page}: raw HTML from data in {body[:200]}"
        if kind in ("html", "iframe", "unknown"):
            assert not any(p in str(proto) for p in XSS), f"{page}: data inside an HTML element"


# The one exception: the login adapter's hidden component posts a one-time ticket to the cookie
# route; its page is a constant script around a ticket it made (tests/app_pages/test_streamlit_adapter.py).
HTML_ALLOWED = {"ui/streamlit_adapter.py"}


def test_app_code_never_renders_html_from_data():
    """No unsafe_allow_html / st.html / components.html in screens and widgets (data or not)."""
    pattern = re.compile(r"unsafe_allow_html\s*=\s*True|st\.html\(|components\.v1|components\.html")
    offenders = [f"{p.relative_to(ROOT)}:{i}" for p in [ROOT / "app.py", *(ROOT / "app_pages").glob("*.py"),
                                                         *(ROOT / "ui").glob("*.py")]
                 if p.relative_to(ROOT).as_posix() not in HTML_ALLOWED
                 for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert not offenders, offenders
