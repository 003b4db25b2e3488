"""The collector inside the app (CDP_COLLECT_IN_APP=1): the real `streamlit run server.py` answers the
Segment API on its own port, and an acknowledged batch becomes queryable in the workspace."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request

import pytest

from engine.collect.tail import collector_status
from engine.sources import create_source
from tests.browser.app_server import streamlit_server
from tests.engine.collect_helpers import event_count, post, wait_for


def test_the_app_server_acknowledges_a_segment_batch_and_lands_it(workspace, admin, demo_users):
    key = create_source(workspace, admin, "Website", "events").write_key
    env = {"CDP_WORKSPACE": str(workspace.path), "CDP_AUTH_FILE": str(demo_users),
           "CDP_COOKIE_KEY": "in-app-collector-test-key-" + "k" * 40, "CDP_COLLECT_IN_APP": "1"}
    batch = {"batch": [{"type": "track", "event": "Product Viewed", "userId": f"u{i}", "messageId": f"m{i}",
                        "properties": {"sku": f"S{i}"}} for i in range(25)]
             + [{"type": "identify", "userId": "u1", "traits": {"email": "one@example.com"}, "messageId": "i1"}]}
    with streamlit_server(env) as url:
        assert post(url, "/v1/batch", batch, key=key) == (200, {"success": True})
        assert post(url, "/v1/t", {"writeKey": key, "anonymousId": "a1", "event": "Clicked"})[0] == 200
        status, answer = post(url, "/v1/batch", batch, key="wk_wrong")
        assert status == 401 and "Unknown write key" in answer["message"]
        assert wait_for(lambda: event_count(workspace) == 27, 60), "acknowledged events must become queryable"
        with urllib.request.urlopen(url + "/health", timeout=10) as response:
            health = json.loads(response.read())
        assert health["status"] == "ok" and health["acked_events"] == 27
        with urllib.request.urlopen(f"{url}/v1/projects/{key}/settings", timeout=10) as response:
            assert json.loads(response.read())["integrations"]["Segment.io"]["apiKey"] == key
        assert collector_status(workspace)["running"] is True, "the Sources screen sees the app's collector"
        assert urllib.request.urlopen(url + "/_cdp/health", timeout=10).status == 200
    assert workspace.scalar("SELECT count(*) FROM events WHERE event = 'Product Viewed'") == 25
    assert workspace.scalar("SELECT traits->>'email' FROM events WHERE type = 'identify'") == "one@example.com"
    assert workspace.query_rows("SELECT sum(rows_loaded) FROM loads WHERE username = 'collector'") == [(27,)]


@pytest.mark.slow
def test_an_app_server_that_holds_the_workspace_lands_events_and_keeps_others_out(workspace, admin, demo_users):
    """CDP_HOLD_WORKSPACE=1: the server keeps the file open; events still land, another process is told
    at once who holds the file, and everything is in the file once the server stops."""
    key = create_source(workspace, admin, "Website", "events").write_key
    env = {"CDP_WORKSPACE": str(workspace.path), "CDP_AUTH_FILE": str(demo_users),
           "CDP_COOKIE_KEY": "in-app-collector-test-key-" + "k" * 40, "CDP_COLLECT_IN_APP": "1",
           "CDP_HOLD_WORKSPACE": "1"}
    batch = {"batch": [{"type": "track", "event": "Product Viewed", "userId": f"u{i}", "messageId": f"h{i}"}
                       for i in range(10)]}

    def landed(url):
        with urllib.request.urlopen(url + "/health", timeout=10) as response:
            return json.loads(response.read())["landed_events"]

    with streamlit_server(env) as url:
        assert post(url, "/v1/batch", batch, key=key) == (200, {"success": True})
        assert wait_for(lambda: landed(url) == 10, 60), "acknowledged events must land while the file is held"
        cli = subprocess.run([sys.executable, "-m", "engine.cli.main", "status"], capture_output=True, text=True,
                             timeout=120, env={**os.environ, "CDP_WORKSPACE": str(workspace.path)})
        assert cli.returncode != 0 and "held open by the app server" in cli.stdout + cli.stderr
    assert not workspace.held and event_count(workspace) == 10
