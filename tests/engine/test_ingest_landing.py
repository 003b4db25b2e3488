"""Raw landing copies: a load killed before its commit leaves a copy with no `loads` row; the
next load removes such leftovers (once past a grace period), never a copy a load recorded."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from engine.ingest import ingest_file
from engine.ingest import landing
from tests.engine.collect_helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]

CONTACTS = "id,email,first_name\n" + "".join(f"c{i},p{i}@example.com,Name{i}\n" for i in range(200))

# `cdp ingest` as a process that stops for good in the middle of its load (after the raw copy
# is made, before the commit), so the test can SIGKILL it there.
_STUCK_INGEST = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from engine.access import system_user
    from engine.ingest import ingest_file, load
    from engine.workspace import Workspace

    def stuck(*args, **kwargs):
        Path(sys.argv[3]).write_text("in the load")
        time.sleep(600)

    load._load_typed = stuck
    ingest_file(Workspace(sys.argv[1]), system_user(), "contacts", sys.argv[2], "CRM")
""")


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def _kill_mid_load(workspace, upload: Path, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    proc = subprocess.Popen([sys.executable, "-c", _STUCK_INGEST, str(workspace.path), str(upload), str(marker)],
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert wait_for(lambda: marker.exists() or proc.poll() is not None, 60), "the load never started"
        assert marker.exists(), proc.stderr.read().decode()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        proc.stderr.close()


@pytest.mark.file_times
def test_the_copy_a_killed_load_left_is_removed_by_the_next_load(workspace, admin, tmp_path):
    kept = tmp_path / "kept.csv"
    kept.write_text(CONTACTS, encoding="utf-8")
    committed = ingest_file(workspace, admin, "contacts", kept, "CRM")
    upload = tmp_path / "killed.csv"
    upload.write_text(CONTACTS.replace("Name", "Other"), encoding="utf-8")

    _kill_mid_load(workspace, upload, tmp_path)

    folder = landing.landing_folder(workspace)
    recorded = {r[0] for r in workspace.query_rows("SELECT landed_file FROM loads")}
    leftovers = [p for p in folder.iterdir() if p.is_file() and p.name not in recorded]
    assert len(leftovers) == 1 and leftovers[0].read_text() == upload.read_text(), \
        "the killed load's copy is there, with no loads row"
    _age(leftovers[0], landing.ORPHAN_GRACE_SECONDS + 60)
    scratch = folder / "utf8-killed.csv"  # a Windows-1252 file's UTF-8 copy, also left behind
    scratch.write_text("id\n")
    _age(scratch, landing.ORPHAN_GRACE_SECONDS + 60)
    fresh = folder / "load-99999999-0123456789abcdef.csv"  # too recent to judge: kept
    fresh.write_text("id\n")
    before = {r[0] for r in workspace.query_rows("SELECT landed_file FROM loads WHERE load_id = ?",
                                                 [committed.load_id])}
    _age(folder / before.pop(), landing.ORPHAN_GRACE_SECONDS + 60)  # an old copy of a real load

    again = tmp_path / "next.csv"
    again.write_text(CONTACTS.replace("Name", "Next"), encoding="utf-8")
    ingest_file(workspace, admin, "contacts", again, "CRM")

    names = {p.name for p in folder.iterdir() if p.is_file()}
    recorded = {r[0] for r in workspace.query_rows("SELECT landed_file FROM loads")}
    assert leftovers[0].name not in names and scratch.name not in names
    assert recorded <= names, "every copy a load recorded stays"
    assert names - recorded == {fresh.name}


def test_cleaning_keeps_files_it_does_not_know(workspace, admin, tmp_path):
    folder = landing.landing_folder(workspace)
    (folder / "incoming").mkdir(parents=True)
    upload = folder / "incoming" / "upload-0123"  # an upload waiting for its Load button
    notes = folder / "README.txt"
    for path in (upload, notes):
        path.write_text("x")
        _age(path, landing.ORPHAN_GRACE_SECONDS + 60)
    with workspace.transaction() as con:
        assert landing.clean_orphans(con, workspace) == []
    assert upload.exists() and notes.exists()
