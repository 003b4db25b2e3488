"""Every forwarding destination kind is complete: a payload builder, a request, an age limit, a
platform name, a sandbox preview and a section in CONTRIBUTING.md; delivery works for each
through the registry alone."""
import json
import re
from datetime import datetime, timedelta, timezone

import pytest

from engine.activation import sandbox_files
from engine.forward import config, destinations, sandbox
from engine.forward.destinations.base import ConversionDestination
from engine.forward.queue import enqueue, preview
from engine.forward.worker import run_once
from tests.conftest import ROOT
from tests.engine.test_forward import seed
from tests.engine.test_forward_sandbox import NoNetwork, written

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py

SECTION = "**Adding a forwarding destination**"


def forwarding_section() -> str:
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.find("\n- ", start)
    return text[start:end if end > 0 else None]


def _overrides(cls, name: str) -> bool:
    mine, base = getattr(cls, name), getattr(ConversionDestination, name)
    return getattr(mine, "__func__", mine) is not getattr(base, "__func__", base)


def missing(cls) -> list[str]:
    """What a destination kind lacks to be forwarded to (empty when complete)."""
    out = []
    if not (cls.kind and cls.label and cls.platform_name and cls.events_key):
        out.append("kind, label, platform_name and events_key")
    limits = [cls.age_limit_days, *cls.age_limit_days_by_source.values()]
    if not all(isinstance(days, int) and days > 0 for days in limits):
        out.append("an age limit in days")
    if not (_overrides(cls, "payload_sql") and _overrides(cls, "request")):
        out.append("a payload builder and a request")
    if not re.match(r"^https://", cls.default_base_url) or cls.batch_size < 1:
        out.append("an API root and a batch size")
    module = cls.__module__.rsplit(".", 1)[-1]
    if f"`{module}.py`" not in forwarding_section() or cls.kind not in destinations.KINDS:
        out.append("its module named in CONTRIBUTING.md and its class in KINDS")
    return out


@pytest.mark.parametrize("kind", sorted(destinations.KINDS))
def test_every_forwarding_kind_is_complete(kind):
    cls = destinations.KINDS[kind]
    assert cls.kind == kind and missing(cls) == []
    assert kind in config.KINDS and kind in sandbox.PLATFORMS
    assert set(cls.required_settings) <= set(config.KINDS[kind]["required"])


def test_the_checker_finds_what_a_kind_lacks():
    class Half(ConversionDestination):
        kind = "half"
        label = "Half a platform"

    assert len(missing(Half)) == 5


@pytest.mark.parametrize("kind", sorted(destinations.KINDS))
def test_each_kind_builds_payloads_and_requests_that_carry_them(workspace, admin, kind):
    """Through the sandbox of that platform: queued, previewed, written as the platform would receive it."""
    seed(workspace, n_orders=2)
    name = f"sandbox-{kind}".replace("_", "-")
    config.add_destination(workspace, admin, name, "sandbox", {"platform": kind})
    mapping = config.add_mapping(workspace, admin, name, "event", "Order Completed", "Purchase")
    shown = preview(workspace, name, mapping, limit=10)
    assert sum(p["would_send"] for p in shown) == 2
    sent_ids = {e for e in ("m-a1-0", "m-a1-1", "m-a2-0", "m-a2-1") for p in shown
                if p["would_send"] and f'"{e}"' in json.dumps(p["payload"])}
    assert sent_ids == {"m-a1-0", "m-a1-1"}
    result = run_once(workspace, admin, name, client=NoNetwork())[name]
    assert (result["queued"], result["sent"]) == ({"pending": 2, "held": 2}, 2)
    files = written(workspace, name)
    assert len(files) == 1 and files[0]["platform"] == kind
    sent = files[0]["body"][destinations.KINDS[kind].events_key]
    assert sorted(map(json.dumps, sent)) == sorted(json.dumps(p["payload"]) for p in shown if p["would_send"])
    listing = sandbox.written(workspace, name)["files"]
    assert sandbox_files.preview(workspace, admin, listing["path"][0])["rows"] == 2
    dest = config.get_destination(workspace, name)
    assert files[0]["url"].startswith(destinations.platform(dest, "t").base_url)


@pytest.mark.parametrize("kind", sorted(destinations.KINDS))
def test_each_kind_expires_events_past_its_age_limit(workspace, admin, kind):
    cls = destinations.KINDS[kind]
    seed(workspace, n_orders=1)
    name = f"sandbox-{kind}".replace("_", "-")
    config.add_destination(workspace, admin, name, "sandbox", {"platform": kind})
    config.add_mapping(workspace, admin, name, "event", "Order Completed", "Purchase")
    later = datetime.now(timezone.utc) + timedelta(days=cls.age_limit_days + 1)
    enqueue(workspace, name, now=later - timedelta(days=cls.age_limit_days))
    result = run_once(workspace, admin, name, client=NoNetwork(), now=later)[name]
    assert (result["sent"], result["expired"]) == (0, 1)
    reason = workspace.scalar("SELECT reason FROM forward_queue WHERE destination = ? AND status = 'expired'", [name])
    assert reason == f"older than {cls.age_limit_days} days, the most {cls.platform_name} accepts"
