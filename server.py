"""Serve the app: `streamlit run server.py` (what `make run` does).

app.py is the Streamlit script; this wraps it in `st.App` to add the one HTTP route that sets
the login cookie from the server, so the cookie can be HttpOnly (ui/streamlit_adapter.py), and
GET /_cdp/health for a reverse proxy. Both live under server.baseUrlPath when one is set.
"""
import streamlit as st

from engine.workspace import default_workspace_path
from ui.streamlit_adapter import health_route, session_route

app = st.App("app.py", routes=[session_route(), health_route(default_workspace_path)])
