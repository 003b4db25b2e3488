"""Serve the app: `streamlit run server.py` (what `make run` does).

app.py is the Streamlit script; this wraps it in `st.App` to add the one HTTP route that sets
the login cookie from the server, so the cookie can be HttpOnly (ui/streamlit_adapter.py), and
GET /_cdp/health for a reverse proxy. With CDP_COLLECT_IN_APP=1 it also serves the event
collector's endpoints (ui/collector_routes.py) and lands their events in this process. All of
them live under server.baseUrlPath when one is set. With CDP_HOLD_WORKSPACE=1 the server keeps
the workspace open for its lifetime (engine/workspace/connection.py: warm reads, no open per unit
of work; other processes, `cdp` commands included, wait until it stops).
"""
import streamlit as st

from engine.workspace import Workspace, default_workspace_path
from engine.workspace.connection import hold_requested
from ui import collector_routes
from ui.streamlit_adapter import base_path, health_route, session_route

if hold_requested():
    Workspace(default_workspace_path()).hold()

routes = [session_route(), health_route(default_workspace_path)]
lifespan = None
if collector_routes.enabled():
    collector = collector_routes.InAppCollector(default_workspace_path, base_path())
    routes += collector.routes()
    lifespan = collector.lifespan

app = st.App("app.py", routes=routes, lifespan=lifespan)
