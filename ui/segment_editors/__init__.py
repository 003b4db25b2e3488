"""The Segments screen's condition editors: one module per condition kind, `ui/segment_editors/<kind>.py`
with `render(node, uid, choices)`, which draws the kind's widgets and writes the picks into the
condition dict `node` (`uid`: the prefix of its widget keys; `choices`: `builder_choices`).

The kinds themselves are engine/segments/kinds/ (the engine never imports streamlit); this
registry finds each kind's editor by the kind's name.
"""
from __future__ import annotations

import importlib
from typing import Callable

from engine.segments import kinds


def _editor(kind: str) -> Callable | None:
    try:
        module = importlib.import_module(f"{__name__}.{kind}")
    except ModuleNotFoundError:
        return None
    return getattr(module, "render", None)


EDITORS: dict[str, Callable] = {kind: found for kind in kinds.NAMES if (found := _editor(kind))}


def editor(kind: str) -> Callable:
    """The editor of a kind (KeyError names a kind that has none)."""
    if kind not in EDITORS:
        raise KeyError(f"condition kind {kind!r} has no editor: add ui/segment_editors/{kind}.py")
    return EDITORS[kind]
