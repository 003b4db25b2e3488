"""Every Streamlit internal the login touches, in one place (tests/app_pages/test_streamlit_adapter.py
fails if Streamlit changes any of these shapes).

Login cookies are set by the server, not by JavaScript, so they can be `HttpOnly`:
`server.py` serves app.py through `st.App` and adds one route, POST /_cdp/session. After a
login the app hands the browser a one-time ticket (a hidden component posts it to that
route); the route swaps the ticket for the signed token, held only in this process's memory,
and answers with `Set-Cookie: cdp_session=...; HttpOnly; SameSite=Strict; Path=/` plus
`Secure` when the request came over TLS or $CDP_COOKIE_SECURE is set. The token never reaches
page JavaScript. Without server.py (e.g. `streamlit run app.py`) no cookie is set at all and a
login lasts as long as the browser tab's session.
"""
from __future__ import annotations

import os
import re
import secrets
import threading
import time

import streamlit as st
import streamlit.components.v1 as components

COOKIE_NAME = "cdp_session"
SESSION_ROUTE = "/_cdp/session"
TICKET_SECONDS = 60.0
_TICKETS: dict[str, tuple[str | None, float, float]] = {}   # ticket -> (token or None to clear, max_age, expires)
_TICKETS_LOCK = threading.Lock()
_ROUTE = {"mounted": False}


# -- reading the request ---------------------------------------------------------------------

def _text(value) -> str | None:
    """Only real strings count (outside a server, e.g. in AppTest, context values are stand-ins)."""
    return value if isinstance(value, str) and value else None


def read_cookie(name: str = COOKIE_NAME) -> str | None:
    return _text(st.context.cookies.get(name))


def client_address() -> str | None:
    """The browser's address (None on localhost). With $CDP_CLIENT_IP_HEADER (e.g.
    X-Forwarded-For behind a reverse proxy you run), the last address in that header."""
    header = os.environ.get("CDP_CLIENT_IP_HEADER")
    if header:
        value = _text(st.context.headers.get(header)) or ""
        forwarded = [part.strip() for part in value.split(",") if part.strip()]
        if forwarded:
            return forwarded[-1]
    return _text(st.context.ip_address)


def server_address() -> str | None:
    """The address the server listens on (server.address; empty means every interface)."""
    return _text(st.get_option("server.address"))


# -- writing the cookie through server.py's route --------------------------------------------

def cookies_supported() -> bool:
    return _ROUTE["mounted"]


def _stage(token: str | None, max_age: float) -> str:
    ticket = secrets.token_urlsafe(32)
    now = time.monotonic()
    with _TICKETS_LOCK:
        for stale in [t for t, (_, _, exp) in _TICKETS.items() if exp < now]:
            del _TICKETS[stale]
        _TICKETS[ticket] = (token, max_age, now + TICKET_SECONDS)
    return ticket


def take_ticket(ticket: str) -> tuple[str | None, float] | None:
    """The (token, max_age) a ticket stands for, once; None if unknown or expired."""
    with _TICKETS_LOCK:
        item = _TICKETS.pop(ticket, None)
    if item is None or item[2] < time.monotonic():
        return None
    return item[0], item[1]


def ticket_pending(ticket: str) -> bool:
    """Staged, not yet taken by the route, and not expired."""
    with _TICKETS_LOCK:
        item = _TICKETS.get(ticket)
    return item is not None and item[2] >= time.monotonic()


def stage_cookie(token: str, max_age: float) -> str | None:
    """A ticket that sets the login cookie, or None when cookies are not supported."""
    return _stage(token, max_age) if cookies_supported() else None


def stage_clear() -> str | None:
    return _stage(None, 0) if cookies_supported() else None


_TICKET_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")
_DELIVERY = ("<script>fetch('%s', {method: 'POST', body: '%s', credentials: 'same-origin', "
             "headers: {'Content-Type': 'text/plain'}})</script>")


def base_path() -> str:
    """server.baseUrlPath as '/cdp' (or '' when the app is served at the root)."""
    base = (_text(st.get_option("server.baseUrlPath")) or "").strip("/")
    if base and not re.fullmatch(r"[A-Za-z0-9._~/-]+", base):
        raise ValueError(f"server.baseUrlPath {base!r} has characters a URL path cannot hold")
    return f"/{base}" if base else ""


def session_path() -> str:
    """Where the route listens: under the base path, so a proxy that forwards only it works."""
    return base_path() + SESSION_ROUTE


def delivery_html(ticket: str) -> str:
    """The hidden component's page: a constant script around a ticket this module made (never data)."""
    if not _TICKET_SHAPE.fullmatch(ticket):
        raise ValueError("not a ticket")
    return _DELIVERY % (session_path(), ticket)


def deliver(ticket: str) -> None:
    """Render the hidden component that posts the ticket to the route (from this origin)."""
    components.html(delivery_html(ticket), height=0)


def session_route():
    """The Starlette route server.py mounts."""
    from starlette.responses import Response
    from starlette.routing import Route

    async def exchange(request):
        body = b""
        async for chunk in request.stream():      # a ticket is 43 characters: read no more than 200
            body += chunk
            if len(body) > 200:
                return Response(status_code=413)
        item = take_ticket(body.decode("ascii", "ignore").strip())
        if item is None:
            return Response(status_code=403)
        token, max_age = item
        secure = (request.url.scheme == "https"
                  or os.environ.get("CDP_COOKIE_SECURE", "").lower() in ("1", "true", "yes"))
        response = Response(status_code=204, headers={"Cache-Control": "no-store"})
        if token is None:
            response.delete_cookie(COOKIE_NAME, path="/", secure=secure, httponly=True, samesite="strict")
        else:
            response.set_cookie(COOKIE_NAME, token, max_age=int(max_age), path="/", secure=secure,
                                httponly=True, samesite="strict")
        return response

    _ROUTE["mounted"] = True
    return Route(session_path(), exchange, methods=["POST"])


HEALTH_ROUTE = "/_cdp/health"


def health_route(workspace_path):
    """GET <base>/_cdp/health: 200 or 503 with a small JSON body, for a reverse proxy's checks."""
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from engine.workspace import Workspace
    from engine.workspace.health import health

    async def check(request):
        healthy, details = health(Workspace(workspace_path()))
        return JSONResponse(details, status_code=200 if healthy else 503, headers={"Cache-Control": "no-store"})

    return Route(base_path() + HEALTH_ROUTE, check, methods=["GET"])
