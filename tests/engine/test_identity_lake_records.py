"""lake_records.pull: a backend's rows into the workspace a chunk at a time, typed by the
workspace's table (a first chunk of NULLs decides no type), and the temporary events digest that
resolve drops again (tests/spark/test_resolve_lakehouse_on_spark.py runs it on Spark)."""
from __future__ import annotations

import pytest
from datetime import datetime, timedelta, timezone

import pandas as pd

from engine.identity.lake_records import EVENTS_DIGEST, drop_events_digest, pull
from tests.engine.identity_helpers import add_events

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py


class Chunked:
    """A backend answering every query with the given frames, one chunk each."""

    def __init__(self, frames):
        self.frames, self.asked = frames, []

    def chunks(self, sql, params=None):
        self.asked.append(sql)
        yield from self.frames


def _digest(rows):
    return pd.DataFrame(rows, columns=list(EVENTS_DIGEST))


def test_chunks_land_typed_in_a_temporary_events_that_is_dropped_again(workspace):
    add_events(workspace, [{"type": "page", "anonymous_id": "in-workspace"}])
    at = datetime.now(timezone.utc).replace(microsecond=0)
    frames = [_digest([("page", None, "a1", None, at)]),                       # previous_id all NULL
              _digest([("alias", "u1", None, "a1", at + timedelta(hours=1)), ("track", "u1", "a1", None, at)])]
    backend = Chunked(frames)
    with workspace.transaction() as con:
        assert pull(backend, con, "SELECT * FROM events", list(EVENTS_DIGEST), "events", temporary=True) == 3
        rows = con.execute("SELECT type, previous_id, timestamp FROM events ORDER BY type").fetchall()
        assert rows == [("alias", "a1", at + timedelta(hours=1)), ("page", None, at), ("track", None, at)]
        assert con.execute("SELECT typeof(previous_id) FROM events LIMIT 1").fetchall() == [("VARCHAR",)]
        drop_events_digest(con)
        assert con.execute("SELECT anonymous_id FROM events").fetchall() == [("in-workspace",)]
    assert "FROM events" in backend.asked[0]


def test_a_workspace_table_is_emptied_and_refilled(workspace):
    with workspace.transaction() as con:
        con.execute("INSERT INTO identity_ids VALUES (7, 'email', 'old@x.com', 'record', NULL)")
        frames = [pd.DataFrame({"rec_id": [1, 2], "id_type": ["email", "phone"], "id_value": ["a@x.com", "+44"],
                                "via": ["record", "record"], "namespace": [None, None]}),
                  pd.DataFrame({"rec_id": [3], "id_type": ["customer_id"], "id_value": ["c9"], "via": ["record"],
                                "namespace": ["crm"]})]
        assert pull(Chunked(frames), con, "SELECT * FROM identity_ids",
                    ["rec_id", "id_type", "id_value", "via", "namespace"], "identity_ids") == 3
        assert con.execute("SELECT rec_id, namespace FROM identity_ids ORDER BY rec_id").fetchall() == [
            (1, None), (2, None), (3, "crm")]
    nothing = Chunked([])
    with workspace.transaction() as con:
        assert pull(nothing, con, "SELECT * FROM identity_ids", ["rec_id"], "identity_ids") == 0
        assert con.execute("SELECT count(*) FROM identity_ids").fetchall() == [(0,)]
