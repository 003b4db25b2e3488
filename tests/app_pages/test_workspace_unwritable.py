"""The app on a workspace folder that cannot be written: one clear error, not a traceback."""
import errno
from pathlib import Path

import duckdb
import streamlit as st

from engine.ingest import landing
from engine.workspace import connection
from tests.app_pages.sources_upload import upload

CRM = b"Contact ID,E-mail\nC1,ann@example.com\nC2,bob@example.com\n"


def test_a_load_on_a_full_disk_says_the_workspace_folder_is_full(logged_in_app, app_env, monkeypatch):
    at = logged_in_app("marketer", "app_pages/sources.py")
    upload(at, "HubSpot", "crm export.csv", CRM)
    assert not at.exception, at.exception

    def full_disk(src, dst):  # what shutil.copyfile raises when the disk fills mid-copy
        raise OSError(errno.ENOSPC, "No space left on device", str(src), None, str(dst))

    monkeypatch.setattr(landing.shutil, "copyfile", full_disk)
    at.button(key="src_load").click().run()
    assert not at.exception, at.exception
    errors = [e.value.replace("\\", "") for e in at.error]     # shown markdown-escaped
    assert any(e.startswith("Nothing was loaded: The workspace folder") and str(app_env.folder) in e
               and "full disk" in e for e in errors), errors
    assert app_env.scalar("SELECT count(*) FROM contacts") == 0


def test_a_read_only_workspace_folder_shows_one_error_on_any_screen(logged_in_app, app_env, monkeypatch):
    at = logged_in_app("admin")
    path = app_env.path
    real_connect = duckdb.connect

    def read_only_mount(database=":memory:", read_only=False, **kwargs):
        if Path(str(database)) == path and not read_only:
            raise duckdb.IOException(f'IO Error: Cannot open file "{path}": Read-only file system')
        return real_connect(database, read_only=read_only, **kwargs)

    monkeypatch.setattr(connection.duckdb, "connect", read_only_mount)
    st.cache_data.clear()     # what the login's run cached is still shown without opening the file
    at.switch_page("app_pages/overview.py").run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == [
        f"The workspace folder {app_env.folder} is read-only: make it writable, or point "
        f"CDP_WORKSPACE at a workspace in a folder you can write."]
