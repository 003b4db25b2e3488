"""Editor of an ``orders`` condition: a measure of the person's orders, or a product bought."""
from __future__ import annotations

from engine.segments.kinds.orders import ITEM_FIELDS, MEASURES, ORDER_DATE_MEASURES
from ui.segment_editors.widgets import measure_label, select, value_editor, window_editor


def render(node: dict, uid: str, choices: dict) -> None:
    node["measure"] = select("Measure", list(MEASURES), node.get("measure", "order_count"), f"{uid}_measure",
                             format_func=measure_label)
    if node["measure"] == "bought":
        node["item_field"] = select("Product field", list(ITEM_FIELDS), node.get("item_field", "category"),
                                    f"{uid}_item")
        value_editor(node, "string", f"{uid}_b", ops=["equals", "one_of", "contains", "starts_with"])
        window_editor(node, uid)
    elif node["measure"] in ORDER_DATE_MEASURES:
        value_editor(node, "date", f"{uid}_d")
        node.pop("window", None)
    else:
        value_editor(node, "number", f"{uid}_n")
        window_editor(node, uid)
