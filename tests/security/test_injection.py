"""SQL injection strings in every search and builder field, and hostile upload names.

Each payload must come back as data (or a clear refusal that shows no SQL), never change a
table, and never make the engine read or write outside the workspace folder.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.access import PermissionDenied, audit_entries
from engine.identity import review
from engine.ingest import IngestError, ingest_file
from engine.journeys import PropertyFilter, Step, funnel, paths
from engine.journeys.base import JourneyError
from engine.privacy import subject
from engine.profiles import search_profiles
from engine.segments import DefinitionError, count_definition, sample_members
from engine.segments.model import PersonalConditionRefused, personal_conditions
from engine.sources import SourceError, create_source
from tests.security.seed import ADMIN, ANALYST, SQLI, XSS, table_counts

# What a leaked database error looks like; a refusal must not carry it.
SQL_LEAK = ("Binder Error", "Parser Error", "Catalog Error", "Conversion Error", "syntax error", "duckdb",
            "LINE 1:", "FROM (", "WHERE ")
EXPECTED = (ValueError, KeyError, DefinitionError, JourneyError, IngestError, SourceError, LookupError)


def _safe(call):
    """Run call; a refusal is fine if it is a domain error that shows no SQL."""
    try:
        return call()
    except PermissionDenied:
        raise
    except EXPECTED as exc:
        assert not any(marker.lower() in str(exc).lower() for marker in SQL_LEAK), str(exc)
        return None


@pytest.fixture(scope="module")
def counts(seeded):
    return table_counts(seeded)


def _unchanged(seeded, counts):
    now = table_counts(seeded)
    now.pop("audit_log"), counts.pop("audit_log", None)   # reads are audited (profile views, SQL)
    assert now == {k: v for k, v in counts.items() if k != "audit_log"}


@pytest.mark.parametrize("payload", SQLI)
def test_profile_search(seeded, counts, payload):
    for user in (ADMIN, ANALYST):
        found = _safe(lambda: search_profiles(seeded, user, payload))
        assert found is None or len(found) <= 20
    _unchanged(seeded, counts)


def _trait(field, value, op="equals"):
    return {"type": "group", "op": "all", "children": [
        {"type": "condition", "kind": "trait", "field": field, "op": op, "value": value}]}


def _event(name, prop=None, value=None):
    cond = {"type": "condition", "kind": "event", "event": name, "count_op": "at_least", "count": 1}
    if prop is not None:
        cond["filters"] = [{"property": prop, "op": "equals", "value": value}]
    return {"type": "group", "op": "all", "children": [cond]}


@pytest.mark.parametrize("payload", SQLI)
def test_segment_builder_fields(seeded, counts, payload):
    definitions = [
        _trait("city", payload), _trait("city", payload, "contains"), _trait("first_name", [payload], "one_of"),
        _trait(payload, "x"), _trait(f"traits.{payload}", "x"),
        _event(payload), _event("Viewed Product", payload, "x"), _event("Viewed Product", "label", payload),
        {"type": "group", "op": "all", "children": [
            {"type": "condition", "kind": "crm", "measure": "owner", "op": "equals", "value": payload},
            {"type": "condition", "kind": "source", "source": payload},
            {"type": "condition", "kind": "tag", "tag": payload},
            {"type": "condition", "kind": "orders", "measure": "bought", "item_field": "sku", "op": "contains",
             "value": payload}]},
    ]
    for definition in definitions:
        n = _safe(lambda: count_definition(seeded, definition))
        assert n is None or 0 <= n <= counts["profiles"]
        if personal_conditions(definition):   # refused for analysts before any SQL is built
            with pytest.raises(PersonalConditionRefused):
                sample_members(seeded, ANALYST, definition)
        else:
            _safe(lambda: sample_members(seeded, ANALYST, definition))
    # The one payload stored as data matches exactly the person who has it.
    if payload == SQLI[0]:
        assert count_definition(seeded, _trait("city", payload)) == 1
        assert count_definition(seeded, _event(payload)) >= 1
    _unchanged(seeded, counts)


@pytest.mark.parametrize("payload", SQLI)
def test_funnel_steps_filters_breakdowns_and_paths(seeded, counts, payload):
    steps_variants = [
        [Step(payload), Step("Order Completed")],
        [Step("Viewed Product", (PropertyFilter(payload, "=", "x"),)), Step("Order Completed")],
        [Step("Viewed Product", (PropertyFilter("label", "=", payload),)), Step("Order Completed")],
    ]
    for steps in steps_variants:
        result = _safe(lambda: funnel(seeded, ANALYST, steps))
        if result is not None:
            assert result is not None
    _safe(lambda: funnel(seeded, ANALYST, [Step("Viewed Product"), Step("Order Completed")], breakdown=payload))
    _safe(lambda: paths(seeded, ANALYST, Step(payload)))
    _unchanged(seeded, counts)


@pytest.mark.parametrize("payload", SQLI)
def test_review_audit_privacy_and_source_fields(seeded, counts, payload):
    _safe(lambda: review.review_queue(seeded, ADMIN, source=payload, rule=payload, reason=payload))
    entries = _safe(lambda: audit_entries(seeded, ADMIN, action=payload, username=payload))
    assert entries is None or entries.empty
    for id_type in ("email", "phone", "customer_id"):
        found = _safe(lambda: subject.find_subject(seeded, ADMIN, id_type, payload))
        assert found is None or not found.profile_ids
    _safe(lambda: subject.find_subject(seeded, ADMIN, payload, "x"))
    before = table_counts(seeded)
    _safe(lambda: create_source(seeded, ADMIN, payload, "contacts"))
    assert table_counts(seeded)["profiles"] == before["profiles"]


def test_forwarding_mapping_fields_are_data(tmp_path, seeded):
    from engine.forward import config as fwd
    from tests.security.seed import seed_workspace
    for payload in SQLI:
        try:
            fwd.add_destination(seeded, ADMIN, payload, "meta", {"pixel_id": "1"})
        except EXPECTED as exc:
            assert "Error:" not in str(exc)
        try:
            fwd.add_mapping(seeded, ADMIN, "nope", "event", payload, payload)
        except EXPECTED as exc:
            assert "Error:" not in str(exc)
    assert table_counts(seeded)["events"] == 15 + 3


def test_tables_still_there(seeded):
    counts = table_counts(seeded)
    assert counts["profiles"] > 0 and counts["events"] == 18 and counts["contacts"] == 3


# -- upload names ---------------------------------------------------------------------------

HOSTILE_NAMES = ["../../etc/passwd", "..\\..\\x.csv", "/etc/passwd", "C:\\Windows\\win.ini",
                 "a\x00b.csv", "x" * 5000 + ".csv", "../" * 40 + "tmp/evil.csv", "~/.ssh/authorized_keys",
                 "<script>alert(1)</script>.csv"]


def _tree(folder: Path) -> set[str]:
    return {str(p) for p in folder.rglob("*")}


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=range(len(HOSTILE_NAMES)))
def test_upload_name_is_never_a_path(tmp_path, name, seeded):
    """The Sources screen saves the upload under a generated name and passes the original name as
    file_name (app_pages/sources.py); ingest_file records it and uses only generated paths."""
    upload = tmp_path / "upload-generated"
    n = HOSTILE_NAMES.index(name)
    upload.write_text(f"email,first_name\nnew.person{n}@example.com,Nia\n")
    outside = tmp_path.parent
    before_outside = {p.name for p in outside.iterdir()}
    before_ws = _tree(seeded.folder)
    result = ingest_file(seeded, ADMIN, "contacts", upload, f"upload-src-{n}", file_name=name)
    assert result.rows_loaded in (0, 1)
    landed = _tree(seeded.folder) - before_ws
    for path in landed:
        assert Path(path).resolve().is_relative_to(seeded.folder.resolve())
        assert "passwd" not in path and "evil" not in path and "win.ini" not in path
    assert {p.name for p in outside.iterdir()} == before_outside
    assert not Path("/tmp/evil.csv").exists()
    recorded = seeded.query_df("SELECT file_name FROM loads ORDER BY load_id DESC LIMIT 1")["file_name"][0]
    assert recorded == name


def test_sources_screen_never_uses_upload_name_as_path(workspace):
    import re

    from engine.ingest.landing import keep_upload
    from tests.conftest import ROOT

    text = (ROOT / "app_pages" / "sources.py").read_text()
    assert "uploaded.name" in text          # recorded ...
    for line in text.splitlines():          # ... but never joined into a path
        if "uploaded.name" in line:
            assert "/" not in line.split("uploaded.name")[0].split("(")[-1]
            assert "Path(" not in line and "open(" not in line
    assert "keep_upload(ws, uploaded.getvalue())" in text   # the bytes are kept under a generated name
    kept = keep_upload(workspace, b"email\n")
    assert re.fullmatch(r"upload-[0-9a-f]{32}", kept.name)
    assert kept.parent == workspace.folder / "landing" / "incoming" and kept.read_bytes() == b"email\n"
