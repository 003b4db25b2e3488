"""Editor of a ``tag`` condition: any of the picked tags."""
from __future__ import annotations

from ui.segment_editors.widgets import names_picker


def render(node: dict, uid: str, choices: dict) -> None:
    node["tag"] = names_picker("Tags (any of)", choices["tags"], node.get("tag"), f"{uid}_tags",
                               accept_new_options=True)
