"""Serve the app: `streamlit run server.py` (what `make run` does).

app.py is the Streamlit script; this wraps it in `st.App` to add the one HTTP route that sets
the login cookie from the server, so the cookie can be HttpOnly (ui/streamlit_adapter.py).
"""
import streamlit as st

from ui.streamlit_adapter import session_route

app = st.App("app.py", routes=[session_route()])
