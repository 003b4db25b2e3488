"""What a sandbox destination wrote (Audiences and Conversions screens): the folder, the newest
files, and a table of what the platform would receive from one of them."""
from __future__ import annotations

import streamlit as st

from engine.access import User, can
from engine.activation import sandbox_files
from ui.context import workspace


def render_sandbox_panel(written: dict, user: User, key: str) -> None:
    """`written` is {"folder", "files"} from the engine (destinations.sandbox.written or
    forward.sandbox.written)."""
    st.caption(f"Nothing is sent: the sandbox writes what the platform would receive to "
               f"`{written['folder']}`.")
    files = written["files"]
    if files.empty:
        st.info("The sandbox has written nothing here yet.")
        return
    st.dataframe(files[["written_at", "folder", "file", "kb"]], hide_index=True, width="stretch")
    if not can(user, "view_pii"):
        return
    path = st.selectbox("Preview a file", list(files["path"]), key=f"{key}_file",
                        format_func=lambda p: p.rsplit("/", 1)[-1])
    shown = sandbox_files.preview(workspace(), user, path)
    st.caption(f"`{shown['request']}` with {shown['rows']:,} rows; the first {len(shown['table']):,} "
               "as the platform would read them:")
    st.dataframe(shown["table"], hide_index=True, width="stretch")
