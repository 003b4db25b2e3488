"""``value``: RFM and predicted-value scores from ``profile_scores``.

Keys: ``field`` (rfm_segment, r_score, f_score, m_score, recency_days, frequency, monetary,
predicted_clv, predicted_purchases, p_alive, clv_decile), ``op``/``value``; numeric fields also
take ``top_percent`` with value P: the first P % of scored people ranked by that field, one by
one, so ties never empty the cut (equal values are ranked by predicted CLV, then monetary
value, then profile id; ``TOP_PERCENT_TIEBREAK``).
"""
from __future__ import annotations

from engine.segments.rules import DefinitionError, OPS_BY_TYPE, check_operator, err, is_number, quote, value_text
from engine.workspace.versions import NO_EVENTS

LABEL = "Value: RFM segment, predicted CLV, p(alive)"
ORDER = 80
READS = NO_EVENTS    # stored scores
EXAMPLE = {"type": "condition", "kind": "value", "field": "p_alive", "op": "top_percent", "value": 10}
VALUE_FIELDS: dict[str, str] = {
    "rfm_segment": "string", "r_score": "number", "f_score": "number", "m_score": "number",
    "recency_days": "number", "frequency": "number", "monetary": "number",
    "predicted_clv": "number", "predicted_purchases": "number", "p_alive": "number",
    "clv_decile": "number",
}
# top_percent ranks equal values by these fields (then by profile id).
TOP_PERCENT_TIEBREAK = ("predicted_clv", "monetary")


def operators(field: str) -> list[str]:
    """The operators a score takes: its type's, plus top_percent for numbers."""
    vt = VALUE_FIELDS[field]
    return list(OPS_BY_TYPE[vt]) + (["top_percent"] if vt == "number" else [])


def top_percent_tiebreak(field: str) -> tuple[str, ...]:
    """The fields that order people with equal values of `field` in a top_percent cut."""
    return tuple(t for t in TOP_PERCENT_TIEBREAK if t != field)


def validate(path: str, c: dict, profile_fields: dict[str, str]) -> None:
    field = c.get("field")
    if field not in VALUE_FIELDS:
        raise err(path, f"unknown value field {field!r}; use one of {', '.join(VALUE_FIELDS)}")
    if c.get("op") == "top_percent":
        if VALUE_FIELDS[field] != "number":
            raise err(path, "top_percent needs a numeric field")
        v = c.get("value")
        if not is_number(v) or not 0 < v <= 100:
            raise err(path, "top_percent needs a percentage between 0 and 100")
    else:
        check_operator(path, VALUE_FIELDS[field], c.get("op"), c.get("value"))


def compile(comp, c: dict) -> str:
    fld = c["field"]
    if fld not in VALUE_FIELDS:
        raise DefinitionError(f"value field {fld!r} is not allowed")
    col = quote(fld)
    if c["op"] == "top_percent":
        # Ranked one by one so ties cannot swallow the cut (p_alive is 1.0 for many people):
        # equal values are ordered by the tie-breakers, then by profile id.
        order = ", ".join([f"{col} DESC"] + [f"{quote(t)} DESC NULLS LAST" for t in top_percent_tiebreak(fld)]
                          + ["profile_id"])
        return (f"p.profile_id IN (SELECT profile_id FROM (SELECT profile_id, "
                f"row_number() OVER (ORDER BY {order}) AS rank, count(*) OVER () AS scored "
                f"FROM profile_scores WHERE {col} IS NOT NULL) "
                f"WHERE rank <= scored * {comp.bind(float(c['value']) / 100.0)})")
    vt = VALUE_FIELDS[fld]
    return comp.any_record("profile_scores",
                           lambda op: f"COALESCE({comp.compare(col, vt, op, c.get('value'))}, FALSE)",
                           c["op"])


def describe(c: dict, window: str) -> str:
    text = f"{c['field']} {value_text(c['op'], c.get('value'))}"
    if c["op"] == "top_percent":
        text += " (ties ranked by " + ", then ".join(top_percent_tiebreak(c["field"])) + ", then profile id)"
    return text
