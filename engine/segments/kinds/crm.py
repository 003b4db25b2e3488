"""``crm``: lead stage (current, past, changes), owner and deal value from CRM records.

Keys: ``measure`` stage_is (the person's current lead stage: the stage of their latest CRM
record by its updated time, string op) | stage_was (the person was ever at stage ``value``
(string or list), in ``window``) | stage_changed (a stage change in ``window``; optional
``value`` = the new stage(s)) | owner (string op) | deal_value (number op); ``op``/``value``
for the measures compared with an operator (stage_is, owner, deal_value).
"""
from __future__ import annotations

import json
from typing import Any

from engine.segments.rules import check_operator, err, value_text
from engine.workspace.versions import NO_EVENTS

LABEL = "CRM: lead stage, owner, deal value"
ORDER = 70
READS = NO_EVENTS
EXAMPLE = {"type": "condition", "kind": "crm", "measure": "stage_is", "op": "equals", "value": "Customer"}
CRM_MEASURES = ("stage_is", "stage_was", "stage_changed", "owner", "deal_value")
HISTORY_MEASURES = ("stage_was", "stage_changed")

# Each person's current CRM stage: the stage of their latest CRM record that has one (by the
# source's updated time, else created time, else load time; ties by source and record id).
CURRENT_STAGE_RELATION = (
    "(SELECT profile_id, lead_stage FROM profile_contacts "
    "WHERE lead_stage IS NOT NULL AND lead_stage <> '' "
    "QUALIFY row_number() OVER (PARTITION BY profile_id ORDER BY "
    "COALESCE(updated_at, created_at, loaded_at) DESC NULLS LAST, source DESC, source_record_id DESC) = 1)"
)
STAGE_CHANGES = ("(SELECT m.profile_id, l.stage, l.previous_stage, l.changed_at FROM lead_stage_changes l "
                 "JOIN profile_members m USING (source, source_record_id))")
# measure -> (relation, column, value type) for the measures compared with an operator
COMPARED = {"stage_is": (CURRENT_STAGE_RELATION, "lead_stage", "string"),
            "owner": ("profile_contacts", "owner", "string"),
            "deal_value": ("profile_contacts", "deal_value", "number")}


def validate(path: str, c: dict, profile_fields: dict[str, str]) -> None:
    measure = c.get("measure")
    if measure in COMPARED:
        check_operator(path, COMPARED[measure][2], c.get("op"), c.get("value"))
    elif measure in HISTORY_MEASURES:
        v = c.get("value")
        if measure == "stage_was" and v is None:
            raise err(path, "stage_was needs the stage (value)")
        if v is not None and not (isinstance(v, str) or (isinstance(v, list) and v)):
            raise err(path, "value must be a stage name or a list of names")
    else:
        raise err(path, f"measure must be one of {', '.join(CRM_MEASURES)}")


def _stage_list(comp, value: Any) -> str:
    stages = [value] if isinstance(value, str) else list(value)
    return f"CAST({comp.bind([str(s).lower() for s in stages])} AS VARCHAR[])"


def compile(comp, c: dict) -> str:
    measure = c["measure"]
    if measure in COMPARED:
        relation, column, value_type = COMPARED[measure]
        return comp.any_record(relation,
                               lambda op: f"COALESCE({comp.compare(column, value_type, op, c.get('value'))}, FALSE)",
                               c["op"])
    win = comp.window("changed_at", c.get("window"))
    if measure == "stage_changed":
        cond = win
        if c.get("value") is not None:
            cond += f" AND list_contains({_stage_list(comp, c['value'])}, lower(stage))"
        return f"p.profile_id IN (SELECT profile_id FROM {STAGE_CHANGES} WHERE {cond})"
    stages = _stage_list(comp, c["value"])
    sub = (f"SELECT profile_id FROM {STAGE_CHANGES} WHERE {win} AND "
           f"(list_contains({stages}, lower(stage)) OR list_contains({stages}, lower(previous_stage)))")
    if not c.get("window") or c["window"].get("type", "ever") == "ever":
        sub += (f" UNION ALL SELECT profile_id FROM profile_contacts "
                f"WHERE list_contains({_stage_list(comp, c['value'])}, lower(lead_stage))")
    return f"p.profile_id IN ({sub})"


def describe(c: dict, window: str) -> str:
    m = c["measure"]
    if m in HISTORY_MEASURES:
        return f"CRM {m.replace('_', ' ')} {json.dumps(c.get('value'))}{window}"
    return f"CRM {m.replace('_', ' ')} {value_text(c['op'], c.get('value'))}"
