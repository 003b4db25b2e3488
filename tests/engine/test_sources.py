import pytest

from engine.access import PermissionDenied
from engine.sources import (SourceError, create_source, ensure_source, list_sources,
                            rotate_write_key, source_for_write_key)

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py


def test_events_source_gets_a_write_key_that_rotates(workspace, marketer):
    source = create_source(workspace, marketer, "Website", "events")
    assert source.write_key.startswith("wk_")
    assert source_for_write_key(workspace, source.write_key) == "Website"
    new_key = rotate_write_key(workspace, marketer, "Website")
    assert new_key != source.write_key
    assert source_for_write_key(workspace, source.write_key) is None
    assert source_for_write_key(workspace, new_key) == "Website"


def test_non_event_sources_have_no_key_and_kinds_cannot_clash(workspace, marketer):
    assert create_source(workspace, marketer, "CRM", "contacts").write_key is None
    with workspace.transaction() as con:
        with pytest.raises(SourceError, match="holds contacts"):
            ensure_source(con, marketer, "CRM", "orders")
    with pytest.raises(SourceError):
        create_source(workspace, marketer, "CRM", "contacts")
    with pytest.raises(SourceError):
        create_source(workspace, marketer, "../etc", "contacts")
    assert list(list_sources(workspace)["name"]) == ["CRM"]


def test_analyst_cannot_create_sources(workspace, analyst):
    with pytest.raises(PermissionDenied):
        create_source(workspace, analyst, "CRM", "contacts")
