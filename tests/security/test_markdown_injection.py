"""Markdown injection: event names, names and properties sent by anyone with a write key or an
upload are shown on every screen as text, never read as markdown (an image beacon in an event
name would otherwise load in an admin's browser) nor as plotly HTML."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from engine.derived import refresh
from engine.identity import resolve
from engine.ingest import ingest_file
from tests.conftest import copy_workspace_folder
from tests.security.seed import ADMIN
from tests.security.test_screens import ALL_SCREENS, _walk, each_tab

BEACON = "![x](http://127.0.0.1:9/beacon)"
HOSTILE = [BEACON, "<img src=http://127.0.0.1:9/img>", "[link](javascript:alert(1))", "**bold**",
           ":red[alarm]"]
# Proto fields Streamlit renders as markdown (widget labels, help, alert and markdown bodies,
# metric, tab and expander labels) and, for radio buttons, the options too.
MARKDOWN_FIELDS = {"body", "label", "help"}


@pytest.fixture(scope="module")
def hostile(seeded_template, tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile_md")
    ws = copy_workspace_folder(seeded_template, folder)
    contacts = folder / "md_contacts.csv"
    pd.DataFrame([{"customer_id": f"M{i}", "first_name": text, "last_name": HOSTILE[(i + 1) % len(HOSTILE)],
                   "email": f"md{i}@example.com", "city": text, "lead_stage": text, "owner": text}
                  for i, text in enumerate(HOSTILE)]).to_csv(contacts, index=False)
    events = folder / "md_events.ndjson"
    rows = []
    for i, text in enumerate(HOSTILE):
        for j, name in enumerate([text, "Order Completed", text]):
            rows.append({"messageId": f"md-{i}-{j}", "type": "track", "event": name, "userId": f"M{i}",
                         "properties": {"label": text, text: text, "utm_source": text, "revenue": 5},
                         "context": {"campaign": {"source": text, "name": text}},
                         "timestamp": f"2026-01-1{i}T1{j}:00:00Z"})
        rows.append({"messageId": f"md-p-{i}", "type": "page", "name": text, "userId": f"M{i}",
                     "properties": {"title": text}, "timestamp": f"2026-01-1{i}T15:00:00Z"})
    events.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    ingest_file(ws, ADMIN, "contacts", contacts, "crm")
    ingest_file(ws, ADMIN, "events", events, "web")
    resolve(ws, ADMIN, full=True)
    refresh(ws)         # as `cdp resolve` does: the screens have their read tables
    return ws


@pytest.fixture
def workspace(hostile):
    return hostile


def _strings(message, radio: bool = False):
    """(field name, text) for every string field in a protobuf message, nested ones too."""
    for field, value in message.ListFields():
        repeated = not isinstance(value, (str, bytes)) and not hasattr(value, "ListFields") and hasattr(value, "__len__")
        values = value if repeated else [value]
        for v in values:
            if isinstance(v, str):
                yield field.name, v
            elif hasattr(v, "ListFields"):
                yield from _strings(v, radio)


def unescaped(at) -> list[str]:
    """Markdown-read fields (and plotly specs) in which a hostile string arrives verbatim."""
    found = []
    for node in _walk(at._tree):
        proto = getattr(node, "proto", None)
        if proto is None or not hasattr(proto, "ListFields"):
            continue
        kind = getattr(node, "type", "")
        for name, text in _strings(proto):
            if kind == "plotly_chart" and name == "spec":
                text = json.dumps(json.loads(text), ensure_ascii=False)   # plotly writes < as \u003c
                if any(h in text for h in HOSTILE if h.startswith("<")):
                    found.append(f"plotly: {text[:120]}")
            elif (name in MARKDOWN_FIELDS and not (kind == "metric" and name == "body")) \
                    or (kind == "radio" and name == "options"):   # a metric's value is plain text
                found += [f"{kind}.{name}: {text[:120]}" for h in HOSTILE if h in text]
    return found


# Screens whose tabs appear only once driven (a profile opened).
TABS_AFTER_DRIVE = {"app_pages/profiles.py"}


def _open_each_tab(at, page: str) -> list[str]:
    """Leaks found in each lazy tab of the page, opened one by one (the last stays open)."""
    return [leak for view in each_tab(at, page) for leak in unescaped(view)]


def _drive(at, page: str) -> None:
    """Put the hostile values where the screens echo a choice back as text."""
    if page.endswith("journeys.py"):
        at.session_state["journey_tab"] = "Paths"
        at.run()
        at.selectbox(key="path_anchor").select(BEACON).run()
    elif page.endswith("profiles.py"):
        at.text_input(key="profile_query").input("M0").run()
        at.selectbox(key="profile_pick").select_index(1).run()
    elif page.endswith("sql.py"):   # DuckDB's error quotes the value it could not convert
        at.text_area[0].input("SELECT CAST(event AS INTEGER) FROM events WHERE event LIKE '!%'")
        next(b for b in at.button if b.label == "Run").click().run()
        assert at.error and "beacon" in at.error[0].value, (at.exception, [c.value for c in at.caption])


@pytest.mark.parametrize("page", ALL_SCREENS)
def test_no_screen_reads_data_as_markdown(logged_in_app, page):
    at = logged_in_app("admin", page)
    if page in TABS_AFTER_DRIVE:
        _drive(at, page)
        leaks = _open_each_tab(at, page)
    else:
        leaks = _open_each_tab(at, page)
        _drive(at, page)
    assert not at.exception, at.exception
    leaks += unescaped(at)
    assert not leaks, f"{page}: {leaks[:5]}"


def test_the_hostile_values_reach_the_screens(logged_in_app):
    """Control: the journeys and profile screens really do show the hostile values (as text)."""
    at = logged_in_app("admin", "app_pages/journeys.py")
    _drive(at, "app_pages/journeys.py")
    captions = " ".join(c.value for c in at.caption)
    assert "beacon" in captions          # the Paths caption names the chosen event ...
    assert BEACON not in captions         # ... escaped


def test_the_markdown_check_can_fail():
    """Control: an unescaped caption, label, radio option or plotly title is caught."""
    from streamlit.testing.v1 import AppTest

    def screen():
        import plotly.graph_objects as go
        import streamlit as st
        text = "![x](http://127.0.0.1:9/beacon)"
        st.caption(f"people did {text}")
        st.radio("Pick", [text, "b"])
        st.metric(text, 1)
        st.plotly_chart(go.Figure(layout={"title": "<img src=http://127.0.0.1:9/img>"}))

    at = AppTest.from_function(screen).run()
    kinds = {leak.split(".")[0].split(":")[0] for leak in unescaped(at)}
    assert {"caption", "radio", "metric", "plotly"} <= kinds, kinds


def test_md_escapes_every_payload():
    from ui.text import md
    for text in HOSTILE:
        assert text not in md(text) and md(text).replace("\\", "") == text
    assert "\n" not in md("line\n# heading")
