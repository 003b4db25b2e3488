"""``subscription``: has an active, cancelled or any subscription, optionally on given plans.

Keys: ``state`` (active: active or trialing | cancelled | any), optional ``plan`` (string or
list), ``window`` (on cancelled_at for cancelled, started_at otherwise).
"""
from __future__ import annotations

import json

from engine.segments.rules import check_choice, err
from engine.workspace.versions import NO_EVENTS

LABEL = "Subscription: active plan, cancelled"
ORDER = 60
READS = NO_EVENTS
EXAMPLE = {"type": "condition", "kind": "subscription", "state": "active", "plan": ["Pro"]}
SUBSCRIPTION_STATES = ("active", "cancelled", "any")


def validate(path: str, c: dict, profile_fields: dict[str, str]) -> None:
    check_choice(path, "state", c.get("state", "any"), SUBSCRIPTION_STATES)
    plan = c.get("plan")
    if plan is not None and not (isinstance(plan, str) or (isinstance(plan, list) and plan
                                                           and all(isinstance(p, str) for p in plan))):
        raise err(path, "plan must be a plan name or a list of names")


def compile(comp, c: dict) -> str:
    state = c.get("state", "any")
    where = []
    if state == "active":
        where.append("lower(status) IN ('active', 'trialing')")
    elif state == "cancelled":
        where.append("(lower(status) IN ('cancelled', 'canceled') OR cancelled_at IS NOT NULL)")
    plan = c.get("plan")
    if plan:
        plans = [plan] if isinstance(plan, str) else list(plan)
        where.append(f"list_contains(CAST({comp.bind([p.lower() for p in plans])} AS VARCHAR[]), lower(plan))")
    where.append(comp.window("cancelled_at" if state == "cancelled" else "started_at", c.get("window")))
    return f"p.profile_id IN (SELECT profile_id FROM profile_subscriptions WHERE {' AND '.join(where)})"


def describe(c: dict, window: str) -> str:
    text = f"subscription {c.get('state', 'any')}"
    if c.get("plan"):
        text += f" on plan {json.dumps(c['plan'])}"
    return text + window
