"""The Streamlit internals the login relies on (ui/streamlit_adapter.py) still have the shape it
expects, and the cookie route answers with an HttpOnly, SameSite=Strict cookie only for a ticket."""
from __future__ import annotations

import asyncio
import inspect
import json

import pytest
import streamlit as st
import streamlit.components.v1 as components
from starlette.applications import Starlette

from ui import streamlit_adapter as adapter


def test_streamlit_still_offers_what_the_login_uses():
    assert "routes" in inspect.signature(st.App.__init__).parameters       # server.py's route
    for name in ("cookies", "headers", "ip_address"):                     # reading the request
        assert isinstance(inspect.getattr_static(type(st.context), name), property), name
    assert "height" in inspect.signature(components.html).parameters      # delivering the ticket
    assert st.get_option("server.address") in (None, "", "127.0.0.1")     # option still exists


def _call(app, method: str, path: str, body: bytes = b"", scheme: str = "http") -> tuple[int, list, bytes]:
    sent = []

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(),
             "query_string": b"", "headers": [(b"host", b"127.0.0.1")], "scheme": scheme,
             "server": ("127.0.0.1", 8501), "client": ("127.0.0.1", 5000), "http_version": "1.1",
             "root_path": ""}
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], start["headers"], content


def _post(app, body: bytes, scheme: str = "http") -> tuple[int, list[str]]:
    status, headers, _ = _call(app, "POST", adapter.SESSION_ROUTE, body, scheme)
    return status, [v.decode() for k, v in headers if k == b"set-cookie"]


def test_the_route_swaps_a_one_time_ticket_for_an_httponly_cookie(monkeypatch):
    monkeypatch.setitem(adapter._ROUTE, "mounted", False)
    app = Starlette(routes=[adapter.session_route()])
    assert adapter.cookies_supported()
    ticket = adapter.stage_cookie("v1.token.sig", 3600)
    status, cookies = _post(app, ticket.encode())
    assert status == 204 and len(cookies) == 1
    cookie = cookies[0].lower()
    assert cookie.startswith("cdp_session=v1.token.sig;")
    assert "httponly" in cookie and "samesite=strict" in cookie and "max-age=3600" in cookie
    assert "path=/" in cookie and "secure" not in cookie
    assert _post(app, ticket.encode()) == (403, [])          # used once
    assert _post(app, b"guessed-ticket") == (403, [])
    assert _post(app, b"x" * 10_000)[0] == 413               # no reading of large bodies
    over_tls = _post(app, adapter.stage_cookie("t", 60).encode(), scheme="https")[1][0].lower()
    assert "secure" in over_tls
    monkeypatch.setenv("CDP_COOKIE_SECURE", "1")          # TLS ended at a proxy in front
    assert "secure" in _post(app, adapter.stage_cookie("t", 60).encode())[1][0].lower()
    cleared = _post(app, adapter.stage_clear().encode())[1][0].lower()
    assert cleared.startswith('cdp_session="";') and "max-age=0" in cleared and "httponly" in cleared


def test_an_unused_ticket_expires(monkeypatch):
    monkeypatch.setitem(adapter._ROUTE, "mounted", True)
    ticket = adapter.stage_cookie("t", 60)
    assert adapter.ticket_pending(ticket)
    later = adapter.time.monotonic() + adapter.TICKET_SECONDS + 1
    monkeypatch.setattr(adapter.time, "monotonic", lambda: later)
    assert not adapter.ticket_pending(ticket) and adapter.take_ticket(ticket) is None


def test_without_the_route_nothing_is_staged(monkeypatch):
    monkeypatch.setitem(adapter._ROUTE, "mounted", False)
    assert adapter.stage_cookie("token", 60) is None and adapter.stage_clear() is None


def test_the_hidden_component_carries_only_a_ticket(monkeypatch):
    monkeypatch.setitem(adapter._ROUTE, "mounted", True)
    ticket = adapter.stage_cookie("v1.token.sig", 60)
    page = adapter.delivery_html(ticket)
    assert page.replace(ticket, "TICKET") == adapter.delivery_html("A" * 43).replace("A" * 43, "TICKET")
    assert "v1.token.sig" not in page                 # the token itself never reaches the page
    for not_a_ticket in ("', alert(1), '", "</script><img src=x>", "a" * 44):
        with pytest.raises(ValueError):
            adapter.delivery_html(not_a_ticket)


def test_the_health_route_answers_from_the_file_system(tmp_path):
    from engine.workspace import open_workspace
    path = tmp_path / "ws" / "cdp.duckdb"
    app = Starlette(routes=[adapter.health_route(lambda: path)])
    status, _, body = _call(app, "GET", adapter.HEALTH_ROUTE)
    assert status == 503 and json.loads(body)["status"] == "unhealthy"
    ws = open_workspace(path)
    with ws.transaction() as con:
        con.execute("INSERT INTO sources (name, kind) VALUES ('CRM', 'contacts')")
    status, headers, body = _call(app, "GET", adapter.HEALTH_ROUTE)
    assert status == 200 and (b"cache-control", b"no-store") in headers
    assert json.loads(body) == {"status": "ok", "workspace": str(path), "problems": [],
                                "data_version": ws.data_version()}


def test_behind_a_proxy_with_a_base_path_the_routes_and_the_ticket_follow_it(monkeypatch, tmp_path):
    monkeypatch.setitem(adapter._ROUTE, "mounted", True)
    monkeypatch.setattr(adapter.st, "get_option", lambda name: "/cdp/" if name == "server.baseUrlPath" else None)
    app = Starlette(routes=[adapter.session_route(), adapter.health_route(lambda: tmp_path / "none.duckdb")])
    ticket = adapter.stage_cookie("v1.token.sig", 60)
    assert "fetch('/cdp/_cdp/session'" in adapter.delivery_html(ticket)
    assert _call(app, "POST", "/cdp" + adapter.SESSION_ROUTE, ticket.encode())[0] == 204
    assert _call(app, "POST", adapter.SESSION_ROUTE, b"x")[0] == 404
    assert _call(app, "GET", "/cdp" + adapter.HEALTH_ROUTE)[0] == 503
    monkeypatch.setattr(adapter.st, "get_option", lambda name: "cdp\"><script>")
    with pytest.raises(ValueError, match="baseUrlPath"):
        adapter.session_path()
