"""The forwarding sandbox: in every workspace, idle until mapped, writes what Meta CAPI or Google
would receive (consent and suppression applied) to files and sends nothing."""
import json

import pytest

from engine.activation import sandbox_files
from engine.forward import config, sandbox
from engine.forward.deliver import build_request
from engine.forward.worker import run_once
from tests.engine.test_forward import seed, sha

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py


def written(workspace, name="sandbox"):
    folder = sandbox.folder(workspace, name)
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []


class NoNetwork:
    """A client that fails the test if anything tries to send."""

    def send(self, req, describe):
        raise AssertionError(f"the sandbox sent a request to {req.url}")


@pytest.fixture(autouse=True)
def no_credentials(monkeypatch, tmp_path):
    monkeypatch.setenv("CDP_SECRETS_FILE", str(tmp_path / "no-secrets.toml"))


def test_present_in_every_workspace_and_idle_until_mapped(workspace, admin):
    seed(workspace, n_orders=1)
    assert list(config.list_destinations(workspace)["name"]) == ["sandbox"]
    dest = config.get_destination(workspace, "sandbox")
    assert dest["sandbox"] and dest["kind"] == "meta_capi" and config.delivery_token(dest)
    result = run_once(workspace, admin, client=NoNetwork())
    assert result["sandbox"]["sent"] == 0 and written(workspace) == []


def test_mapped_conversions_are_written_as_meta_would_receive_them(workspace, admin):
    seed(workspace, n_orders=2)
    config.add_mapping(workspace, admin, "sandbox", "event", "Order Completed", "Purchase")
    result = run_once(workspace, admin, client=NoNetwork())
    assert result["sandbox"]["queued"] == {"pending": 2, "held": 2}       # p2 has no advertising consent
    assert result["sandbox"]["sent"] == 2
    files = written(workspace)
    assert len(files) == 1 and files[0]["platform"] == "meta_capi" and files[0]["method"] == "POST"
    events = files[0]["body"]["data"]
    assert sorted(e["event_id"] for e in events) == ["m-a1-0", "m-a1-1"]
    assert all(e["user_data"]["em"] == [sha("jane.doe@example.com")] for e in events)
    assert sha("no.consent@example.com") not in json.dumps(files)
    assert files[0]["body"]["access_token"] == sandbox.PLACEHOLDER_TOKEN
    dest = config.get_destination(workspace, "sandbox")
    assert files[0]["body"] == json.loads(build_request(dest, sandbox.PLACEHOLDER_TOKEN, events).body)
    log = workspace.query_rows("SELECT status, accepted FROM forward_batches WHERE destination = 'sandbox'")
    assert log == [("sent", 2)]
    assert workspace.scalar("SELECT count(*) FROM audit_log WHERE action = 'forward.deliver'") == 1
    # A second pass finds nothing new and writes nothing.
    assert run_once(workspace, admin)["sandbox"]["sent"] == 0 and len(written(workspace)) == 1


def test_a_google_sandbox_and_the_listing(workspace, admin):
    seed(workspace, n_orders=1)
    with pytest.raises(ValueError, match="platform is one of"):
        config.add_destination(workspace, admin, "sandbox-x", "sandbox", {"platform": "tiktok"})
    config.add_destination(workspace, admin, "sandbox-google", "sandbox", {"platform": "google_conversions"})
    config.add_mapping(workspace, admin, "sandbox-google", "event", "Order Completed", "purchase")
    assert run_once(workspace, admin, "sandbox-google")["sandbox-google"]["sent"] == 1
    files = written(workspace, "sandbox-google")
    assert files[0]["url"].endswith("/v1/events:ingest") and "Authorization" not in files[0]["headers"]
    assert files[0]["body"]["events"][0]["adIdentifiers"] == {"gclid": "G-CLICK-1"}
    listing = sandbox.written(workspace, "sandbox-google")
    assert listing["folder"].name == "conversions--sandbox-google" and len(listing["files"]) == 1
    shown = sandbox_files.preview(workspace, admin, listing["files"]["path"][0])
    assert shown["rows"] == 1 and shown["table"]["transactionId"][0] == "m-a1-0"
    assert sandbox.written(workspace, "sandbox")["files"].empty
