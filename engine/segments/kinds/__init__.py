"""Condition kinds: one module per kind, found by name; this package is their registry.

A kind module (`engine/segments/kinds/<kind>.py`, the file name is the kind) keeps everything
about one kind of condition together:

- its docstring: the keys the condition takes (part of the definition format; model.py's
  docstring includes it)
- `LABEL`: what the builder calls it; `ORDER`: its place in the builder's list
- `READS`: the kinds of data its predicate reads (engine/workspace/versions.py: NO_EVENTS,
  REVENUE or DATA; DATA when not given), what a cached count keys on; a kind whose answer
  depends on the condition defines `reads(c)` instead
- `EXAMPLE`: a valid condition (tests validate, compile and describe it)
- `validate(path, c, profile_fields)`: raise `rules.DefinitionError` naming the bad key
- `compile(comp, c) -> str`: a predicate on the profile `p` (comp is the compiler: `bind`,
  `window`, `compare`, `any_record`, `event_rows`, `having_membership`, ...); every user value bound
- `describe(c, window) -> str`: the condition in words (`window` already in words, "" for ever)
- optionally `personal_fields(c, path) -> list[str]`: personal fields it compares with a value

Its editor on the Segments screen is `ui/segment_editors/<kind>.py` (the engine never imports
streamlit). Shared operators, windows and filters are in engine/segments/rules.py.
"""
from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from engine.segments.rules import DefinitionError
from engine.workspace.versions import DATA


def _discover() -> dict[str, ModuleType]:
    found = {info.name: importlib.import_module(f"{__name__}.{info.name}")
             for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_")}
    return dict(sorted(found.items(), key=lambda item: (item[1].ORDER, item[0])))


KINDS: dict[str, ModuleType] = _discover()
NAMES: tuple[str, ...] = tuple(KINDS)


def get(kind) -> ModuleType:
    """The module of a kind; DefinitionError for an unknown one."""
    try:
        return KINDS[kind]
    except (KeyError, TypeError):
        raise DefinitionError(f"unknown condition kind {kind!r}; use one of {', '.join(NAMES)}") from None


def reads(c: dict) -> tuple[str, ...]:
    """The kinds of data one condition reads."""
    module = get(c.get("kind"))
    return module.reads(c) if hasattr(module, "reads") else getattr(module, "READS", DATA)


def label(kind: str) -> str:
    return KINDS[kind].LABEL if kind in KINDS else str(kind)
