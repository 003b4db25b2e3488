"""The condition-kind registry: every kind is documented, validates, compiles and describes its
example; a new kind is found from its file alone."""
from __future__ import annotations

import copy
import json
import re
import sys

import pytest

from engine.segments import kinds, model
from engine.segments.compiler import compile_definition
from engine.workspace.versions import CORE, EVENTS, NO_EVENTS, ORDER_EVENTS
from tests.engine.test_segments_conditions import build_people, grp, members

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py

SEGMENT_REF = ("rules", grp("all", {"type": "condition", "kind": "tag", "tag": "vip"}))


def example(kind: str) -> dict:
    return copy.deepcopy(kinds.KINDS[kind].EXAMPLE)


def test_the_registry_holds_every_kind_the_format_names():
    assert set(kinds.NAMES) == {"trait", "event", "aggregate", "sequence", "orders", "subscription", "crm",
                                "value", "consent", "source", "segment", "tag"}
    assert model.KINDS == kinds.NAMES
    assert len({kinds.KINDS[k].ORDER for k in kinds.NAMES}) == len(kinds.NAMES)
    with pytest.raises(model.DefinitionError, match="unknown condition kind 'nope'"):
        model.validate(grp("all", {"type": "condition", "kind": "nope"}))


@pytest.mark.parametrize("kind", kinds.NAMES)
def test_every_kind_is_documented(kind):
    module = kinds.KINDS[kind]
    doc = module.__doc__ or ""
    assert doc.startswith(f"``{kind}``") and "Keys:" in doc
    assert doc.strip() in model.__doc__                      # the definition format includes it
    for key in module.EXAMPLE:
        if key not in ("type", "kind", "window"):
            assert f"``{key}``" in doc, f"{kind}: key {key!r} is not documented"
    assert module.LABEL and module.EXAMPLE["kind"] == kind


@pytest.mark.parametrize("kind", kinds.NAMES)
def test_every_kind_validates_compiles_and_describes_its_example(kind, workspace):
    build_people(workspace)
    definition = grp("all", example(kind))
    assert model.validate(definition) == definition
    compiled = compile_definition(definition, resolve_segment=lambda sid: SEGMENT_REF)
    assert compiled.sql.startswith("SELECT p.profile_id FROM profiles p WHERE")
    for value in compiled.params.values():                 # user values are bound, never inlined
        if isinstance(value, str) and len(value) > 3:
            assert value not in compiled.sql
    with workspace.connect() as con:
        found = {r[0] for r in con.execute(compiled.sql, compiled.params).fetchall()}
    assert found <= {f"p{i}" for i in range(1, 7)}
    assert model.describe(example(kind)).strip()


def _tables(con, sql: str) -> set[str]:
    """The relations a SELECT names, from DuckDB's own parse of it."""
    tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0])
    assert not tree.get("error"), tree
    found: set[str] = set()

    def walk(node) -> None:
        if isinstance(node, dict):
            if node.get("type") == "BASE_TABLE":
                found.add(node["table_name"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(tree)
    return found


def _reached(con, sql: str, seen: set | None = None) -> set[str]:
    """The relations a query reads, through views (not into the live order-events view, whose
    own reads are the order events)."""
    seen = set() if seen is None else seen
    views = dict(con.execute("SELECT view_name, sql FROM duckdb_views() WHERE NOT internal").fetchall())
    for name in _tables(con, sql) - seen:
        seen.add(name)
        if name in views and name != "order_events_live":
            _reached(con, re.sub(r"^CREATE VIEW \S+ AS ", "", views[name]), seen)
    return seen


EVENT_RELATIONS = {"events", "event_consent_signals", "segment_event_index", "journey_events"}


@pytest.mark.parametrize("condition", [example(k) for k in kinds.NAMES]
                         + [{"type": "condition", "kind": "aggregate", "source": "event", "event": "Viewed",
                             "property": "price", "func": "sum", "op": "gt", "value": 1}],
                         ids=[*kinds.NAMES, "aggregate-of-events"])
def test_every_kind_says_truly_what_it_reads(condition, workspace):
    """A count cached on the versions a kind declares must miss whenever what it reads changes."""
    compiled = compile_definition(grp("all", condition), resolve_segment=lambda sid: SEGMENT_REF)
    declared = set(kinds.reads(condition))
    with workspace.connect() as con:
        reached = _reached(con, compiled.sql)
    if reached & EVENT_RELATIONS:
        assert EVENTS in declared, f"{condition['kind']} reads {sorted(reached & EVENT_RELATIONS)}"
    if "order_events_live" in reached:
        assert declared & {EVENTS, ORDER_EVENTS}, f"{condition['kind']} reads web orders"
    if condition["kind"] == "segment":
        assert EVENTS in declared, "another segment's rules may read anything"


def test_a_definition_reads_what_its_conditions_read():
    trait, orders, event = example("trait"), example("orders"), example("event")
    assert model.reads(grp("all", trait)) == tuple(sorted(NO_EVENTS))
    assert set(model.reads(grp("any", trait, grp("all", orders)))) == {CORE, ORDER_EVENTS}
    assert EVENTS in model.reads(grp("all", orders, grp("none", event)))
    assert model.reads(grp("all")) == (CORE,)


def test_examples_select_the_people_they_describe(workspace):
    build_people(workspace)
    assert members(workspace, grp("all", example("tag"))) == {"p1", "p2", "p5"}
    assert members(workspace, grp("all", example("trait"))) == {"p1", "p3"}


LOUD = '''"""``loud``: a made-up kind for the registry test.

Keys: ``level``.
"""
LABEL = "Loud"
ORDER = 999
EXAMPLE = {"type": "condition", "kind": "loud", "level": 3}


def validate(path, c, profile_fields):
    if not isinstance(c.get("level"), int):
        raise ValueError("level")


def compile(comp, c):
    return f"length(p.profile_id) > {comp.bind(c['level'])}"


def describe(c, window):
    return f"loud at {c['level']}"
'''


def test_a_new_kind_is_one_file(tmp_path, monkeypatch):
    (tmp_path / "loud.py").write_text(LOUD)
    monkeypatch.setattr(kinds, "__path__", [*kinds.__path__, str(tmp_path)])
    try:
        found = kinds._discover()
        assert list(found)[-1] == "loud" and set(kinds.NAMES) < set(found)
        monkeypatch.setattr(kinds, "KINDS", found)
        definition = grp("all", example("loud"))
        assert model.describe(definition).endswith("loud at 3")
        assert "length(p.profile_id)" in compile_definition(definition).sql
    finally:
        sys.modules.pop("engine.segments.kinds.loud", None)
