"""CDP app entry: login gate, navigation and sidebar. Screens live in app_pages/."""
from pathlib import Path

import streamlit as st

from engine.access import can
from engine.workspace import WorkspaceError
from ui.auth import demo_password_warning, login_gate, logout, password_change_form
from ui.context import workspace
from ui.text import md

st.set_page_config(page_title="Open CDP", page_icon=":material/hub:", layout="wide")

# (file, title, icon, permission needed to see it). A section's screens appear once their file exists.
# The folder is app_pages/, not pages/: Streamlit treats a pages/ folder as the old automatic
# multipage mode, which on a server's first request (and in AppTest reruns) runs a page's file
# directly, bypassing this login gate.
NAVIGATION = {
    "Home": [
        ("app_pages/overview.py", "Overview", ":material/dashboard:", "view"),
    ],
    "Collect and unify": [
        ("app_pages/sources.py", "Sources", ":material/input:", "view"),
        ("app_pages/identity.py", "Identity", ":material/join_inner:", "view"),
    ],
    "Understand": [
        ("app_pages/profiles.py", "Profiles", ":material/person_search:", "view"),
        ("app_pages/journeys.py", "Journeys", ":material/route:", "view"),
        ("app_pages/insights.py", "Insights", ":material/insights:", "view"),
    ],
    "Activate": [
        ("app_pages/segments.py", "Segments", ":material/group_work:", "view"),
        ("app_pages/activation.py", "Audiences", ":material/campaign:", "view"),
        ("app_pages/conversions.py", "Conversions", ":material/conversion_path:", "view"),
    ],
    "Govern": [
        ("app_pages/privacy.py", "Privacy", ":material/shield_person:", "privacy_requests"),
        ("app_pages/sql.py", "SQL", ":material/terminal:", "run_sql"),
        ("app_pages/admin.py", "Users and audit", ":material/admin_panel_settings:", "view_audit"),
    ],
}

user = login_gate()
if user is None:
    st.stop()

here = Path(__file__).parent
pages = {
    section: [st.Page(path, title=title, icon=icon) for path, title, icon, perm in entries
              if (here / path).exists() and can(user, perm)]
    for section, entries in NAVIGATION.items()
}
navigation = st.navigation({s: p for s, p in pages.items() if p})

with st.sidebar:
    ws = workspace()
    st.caption(f"Workspace: `{ws.path}`")
    st.markdown(f"**{md(user.display_name)}** · {user.role}")
    password_change_form(user)
    if st.button("Log out", icon=":material/logout:", key="cdp_logout"):
        logout(user)
        st.rerun()

demo_password_warning(user)
try:
    navigation.run()
except WorkspaceError as exc:  # e.g. a read-only or full workspace folder: one clear line
    st.error(str(exc))
