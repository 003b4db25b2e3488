"""The segment definition: a JSON-able rule tree, and its validation.

A definition is plain data (dicts, lists, strings, numbers, booleans) so it can be
stored, versioned, exported and imported as JSON.

Groups
------
``{"type": "group", "op": "all" | "any" | "none", "children": [node, ...]}``

``all`` = every child holds, ``any`` = at least one holds, ``none`` = no child holds.
Groups nest as deep as needed (up to ``MAX_DEPTH``). An empty ``all``/``none`` group
matches everyone; an empty ``any`` group matches no one.

Conditions
----------
``{"type": "condition", "kind": KIND, ...}``; every condition also accepts
``"negate": true`` (the same as putting it alone in a ``none`` group).

Value operators (``op``/``value``) depend on the value type:

- string: ``equals``, ``not_equals``, ``one_of``/``not_one_of`` (value is a list),
  ``contains``, ``not_contains``, ``starts_with``, ``ends_with`` (case-insensitive),
  ``is_set``, ``not_set``
- number: ``equals``, ``not_equals``, ``gt``, ``gte``, ``lt``, ``lte``,
  ``between`` (value ``[low, high]``, inclusive), ``one_of``, ``is_set``, ``not_set``
- date: ``before``, ``after``, ``on`` (value ``"YYYY-MM-DD"``), ``between``
  (``[start, end]``, inclusive days), ``within_last_days`` / ``more_than_days_ago`` (value N),
  ``is_set``, ``not_set``
- boolean: ``is_true``, ``is_false``, ``is_set``, ``not_set``

``not_equals``/``not_one_of``/``not_contains`` include people whose value is unknown.

Windows (``window``) restrict when something happened, relative to the moment of
evaluation (``as_of``, now unless given):
``{"type": "ever"}`` (default), ``{"type": "last_days", "days": N}``,
``{"type": "between_dates", "start": "YYYY-MM-DD", "end": "YYYY-MM-DD"}`` (inclusive),
``{"type": "days_ago", "min_days": N, "max_days": M}`` (between N and M days ago).

Kinds and their keys: one module per kind in engine/segments/kinds/, whose docstrings are
appended below (``help(model)`` or ``model.__doc__`` shows the whole format).
"""
from __future__ import annotations

import copy
import json
from typing import Any

from engine.access import PermissionDenied, User, can
import engine.segments.kinds as kinds
from engine.workspace.versions import CORE
from engine.segments.kinds.aggregate import AGG_FUNCS, ORDER_PROPERTIES  # noqa: F401  (re-exported)
from engine.segments.kinds.crm import CRM_MEASURES  # noqa: F401
from engine.segments.kinds.event import COUNT_OPS  # noqa: F401
from engine.segments.kinds.orders import ITEM_FIELDS, ORDER_DATE_MEASURES, ORDER_NUMBER_MEASURES  # noqa: F401
from engine.segments.kinds.subscription import SUBSCRIPTION_STATES  # noqa: F401
from engine.segments.kinds.trait import PROFILE_FIELDS, TRAIT_TABLES  # noqa: F401
from engine.segments.kinds.value import TOP_PERCENT_TIEBREAK, VALUE_FIELDS, top_percent_tiebreak  # noqa: F401
from engine.segments.rules import (  # noqa: F401  (re-exported: the vocabulary callers know from here)
    BOOLEAN_OPS,
    DATE_OPS,
    NO_VALUE_OPS,
    NUMBER_OPS,
    OPS_BY_TYPE,
    PRESENCE_OPS,
    STRING_OPS,
    WINDOW_TYPES,
    DefinitionError,
    check_operator,
    check_window,
    err,
    is_property_key,
    window_text,
)

__doc__ = (__doc__ or "") + "\n\n" + "\n\n".join((kinds.KINDS[k].__doc__ or k).strip() for k in kinds.NAMES)

MAX_DEPTH = 12
MAX_CONDITIONS = 200
KINDS = kinds.NAMES


class PersonalConditionRefused(DefinitionError, PermissionDenied):
    """A condition compares a personal field with a value, and the user may not see personal data."""


def empty_definition(op: str = "all") -> dict:
    return {"type": "group", "op": op, "children": []}


def field_type(field: str, profile_fields: dict[str, str] | None = None) -> str | None:
    fields = profile_fields or PROFILE_FIELDS
    return fields.get(field)


def _check_condition(path: str, c: dict, profile_fields: dict[str, str]) -> None:
    kind = kinds.get(c.get("kind"))
    if "negate" in c and not isinstance(c["negate"], bool):
        raise err(path, "negate must be true or false")
    check_window(path + ".window", c.get("window"))
    kind.validate(path, c, profile_fields)


def validate(definition: Any, profile_fields: dict[str, str] | None = None, user: User | None = None) -> dict:
    """Check a definition; return a deep copy, or raise DefinitionError naming the bad node.

    With `user`, also refuse conditions that user may not evaluate (PersonalConditionRefused).
    """
    if isinstance(definition, str):
        try:
            definition = json.loads(definition)
        except json.JSONDecodeError as exc:
            raise DefinitionError(f"definition is not valid JSON: {exc}") from None
    fields = profile_fields or PROFILE_FIELDS
    count = 0

    def walk(node: Any, path: str, depth: int) -> None:
        nonlocal count
        if not isinstance(node, dict):
            raise err(path, "each node must be an object")
        if depth > MAX_DEPTH:
            raise err(path, f"groups nest deeper than {MAX_DEPTH} levels")
        kind = node.get("type")
        if kind == "group":
            if node.get("op") not in ("all", "any", "none"):
                raise err(path, "a group's op must be all, any or none")
            children = node.get("children", [])
            if not isinstance(children, list):
                raise err(path, "children must be a list")
            for i, child in enumerate(children):
                walk(child, f"{path}.children[{i}]" if path else f"children[{i}]", depth + 1)
        elif kind == "condition":
            count += 1
            if count > MAX_CONDITIONS:
                raise err(path, f"more than {MAX_CONDITIONS} conditions")
            _check_condition(path, node, fields)
        else:
            raise err(path, "type must be group or condition")

    walk(definition, "", 0)
    if definition.get("type") != "group":
        raise DefinitionError("definition: the top node must be a group")
    try:
        json.dumps(definition)
    except (TypeError, ValueError) as exc:
        raise DefinitionError(f"definition is not JSON-able: {exc}") from None
    check_personal_conditions(definition, user)
    return copy.deepcopy(definition)


def personal_conditions(definition: dict) -> list[str]:
    """Personal fields the definition compares with a value (trait fields, custom traits, event
    property filters), as `path: field`; presence tests (is set / not set) are not listed."""
    found: list[str] = []

    def walk(node: Any, path: str) -> None:
        if not isinstance(node, dict):
            return
        if node.get("type") == "group":
            for i, child in enumerate(node.get("children") or []):
                walk(child, f"{path}.children[{i}]" if path else f"children[{i}]")
            return
        hook = getattr(kinds.KINDS.get(node.get("kind")), "personal_fields", None)
        if hook:
            found.extend(hook(node, path))

    walk(definition, "")
    return found


def check_personal_conditions(definition: dict, user: User | None) -> None:
    """Refuse value conditions on personal fields for a user without view_pii (None: the engine
    itself, e.g. a saved segment's refresh)."""
    if user is None or can(user, "view_pii"):
        return
    found = personal_conditions(definition)
    if found:
        fields = sorted({f.rsplit(": ", 1)[-1] for f in found})
        raise PersonalConditionRefused(
            f"{user.display_name} ({user.role}) may not filter on personal fields ({', '.join(fields)}): "
            "their values are masked for this role. Use 'is set' / 'not set', or ask a marketer.")


def referenced_segments(definition: dict) -> set[str]:
    """Ids of the segments a definition refers to (directly)."""
    found: set[str] = set()

    def walk(node: dict) -> None:
        if node.get("type") == "group":
            for child in node.get("children", []):
                walk(child)
        elif node.get("kind") == "segment":
            found.add(node["segment_id"])

    walk(definition)
    return found


def reads(definition: dict) -> tuple[str, ...]:
    """The kinds of data (engine/workspace/versions.py) a definition's count and members read:
    the union of its conditions' (and the core data every count reads), for a cache to key on."""
    found = {CORE}
    if definition.get("type") == "group":
        for child in definition.get("children", []):
            found.update(reads(child))
    elif definition.get("type") == "condition":
        found.update(kinds.reads(definition))
    return tuple(sorted(found))


def condition_count(definition: dict) -> int:
    if definition.get("type") == "group":
        return sum(condition_count(c) for c in definition.get("children", []))
    return 1


def describe(node: dict, indent: int = 0) -> str:
    """A plain-language, indented rendering of a definition (for review and diffs)."""
    pad = "  " * indent
    if node.get("type") == "group":
        lines = [f"{pad}{node['op']} of:"]
        lines += [describe(c, indent + 1) for c in node.get("children", [])] or [f"{pad}  (nothing)"]
        return "\n".join(lines)
    neg = "NOT " if node.get("negate") else ""
    return f"{pad}{neg}{kinds.get(node.get('kind')).describe(node, window_text(node.get('window')))}"
