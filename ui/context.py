"""What every page needs: the workspace, the acting user, cached reads."""
from __future__ import annotations

import streamlit as st

from engine.access import User, can
from engine.workspace import Workspace, default_workspace_path
from engine.workspace.versions import DATA


@st.cache_resource
def _workspace(path: str) -> Workspace:
    return Workspace(path)


def workspace() -> Workspace:
    """The app's workspace ($CDP_WORKSPACE or workspace/cdp.duckdb); holds no open connection."""
    return _workspace(str(default_workspace_path()))


def current_user() -> User:
    """The logged-in user; app.py guarantees one exists before any page runs."""
    user = st.session_state.get("cdp_user")
    if user is None:
        st.error("Please log in.")
        st.stop()
    return user


def require_page(permission: str) -> User:
    """Stop the page with a clear message unless the user may use it."""
    user = current_user()
    if not can(user, permission):
        st.error("Your role does not give access to this screen. Ask an admin if you need it.")
        st.stop()
    return user


def cached_query(fn, *args, reads=DATA, **kwargs):
    """Call engine fn(workspace, *args), cached until the data it reads changes.

    fn must be a module-level engine function whose arguments are hashable. `reads` names the
    kinds of data it reads (engine/workspace/versions.py): the default, all data, misses after
    any commit that changes data (a login is not one: pass versions.KINDS to see those too);
    `reads=(CORE,)`, for a read that touches no event (nor a table derived from events), stays
    cached while the collector lands events.
    """
    ws = workspace()
    name = f"{fn.__module__}.{fn.__qualname__}"
    version = (tuple(sorted(reads)), ws.data_versions().reading(reads))
    return _cached_call(fn, name, str(ws.path), version, args, tuple(sorted(kwargs.items())))


@st.cache_data(show_spinner=False, max_entries=256)
def _cached_call(_fn, fn_name: str, path: str, data_version: tuple, args: tuple, kwargs: tuple):
    return _fn(_workspace(path), *args, **dict(kwargs))
