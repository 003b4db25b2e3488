"""A small workspace seeded with hostile data, shared by the security tests.

People whose names, emails, traits and events carry XSS, SQL-injection and spreadsheet-formula
payloads, loaded through the real ingest path and resolved into profiles.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from engine.access import User
from engine.derived import refresh
from engine.identity import resolve
from engine.identity.settings import set_namespace
from engine.ingest import ingest_file
from engine.workspace import open_workspace
from tests.conftest import held_open

ADMIN = User("admin", "admin", "Ada Admin")
MARKETER = User("marketer", "marketer", "Max Marketer")
ANALYST = User("analyst", "analyst", "Ana Analyst")

XSS = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<svg onload=alert(1)>",
       "javascript:alert(1)"]
SQLI = ["'; DROP TABLE profiles; --", '" OR 1=1 --', "1); DELETE FROM events; --",
        "\u2019; DROP TABLE events; --", "%' OR '1'='1", "\\'; SELECT 1; --"]
FORMULAS = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+SUM(1+1)", "-2+3", "@SUM(A1)",
            "\tTAB=1", "\rCR=1", "\nLF=1"]

PEOPLE = [
    {"customer_id": "C001", "first_name": XSS[0], "last_name": XSS[1],
     "email": "xss.victim@example.com", "phone": "+447700900123", "city": XSS[2]},
    {"customer_id": "C002", "first_name": FORMULAS[0], "last_name": FORMULAS[1],
     "email": "formula.person@example.com", "phone": "+447700900456", "city": FORMULAS[3]},
    {"customer_id": "C003", "first_name": "Zebulon", "last_name": "Quixotic",
     "email": "zebulon.quixotic@example.org", "phone": "+447700900789", "city": SQLI[0]},
]
# What an analyst must never see, in any form.
PII_VALUES = ["xss.victim@example.com", "formula.person@example.com", "zebulon.quixotic@example.org",
              "447700900123", "447700900456", "447700900789", "Zebulon", "Quixotic"]


def _events() -> list[dict]:
    rows = []
    for i, person in enumerate(PEOPLE):
        rows.append({"messageId": f"id-{i}", "type": "identify", "userId": person["customer_id"],
                     "traits": {"email": person["email"], "firstName": person["first_name"],
                                "favourite": XSS[1]},
                     "timestamp": f"2026-01-0{i + 1}T10:00:00Z"})
        for j, name in enumerate([XSS[0], "Order Completed", SQLI[0], "Viewed Product"]):
            rows.append({"messageId": f"tr-{i}-{j}", "type": "track", "event": name,
                         "userId": person["customer_id"],
                         "properties": {"label": XSS[1], "note": FORMULAS[0], "value": 10 + j},
                         "timestamp": f"2026-01-0{i + 1}T1{j}:00:00Z"})
        rows.append({"messageId": f"pg-{i}", "type": "page", "name": XSS[2],
                     "userId": person["customer_id"], "properties": {"title": XSS[0]},
                     "timestamp": f"2026-01-0{i + 1}T15:00:00Z"})
    return rows


def seed_workspace(folder: Path):
    """Build the hostile workspace under folder; returns it (profiles resolved)."""
    folder.mkdir(parents=True, exist_ok=True)
    ws = open_workspace(folder / "ws" / "cdp.duckdb")
    contacts = folder / "contacts.csv"
    pd.DataFrame([{**p, "lead_stage": "lead", "owner": XSS[0]} for p in PEOPLE]).to_csv(contacts, index=False)
    orders = folder / "orders.csv"
    pd.DataFrame([
        {"order_id": f"O{i}", "order_date": "2026-01-05T12:00:00Z", "customer_id": p["customer_id"],
         "email": p["email"], "total": 20 + i, "currency": "GBP"}
        for i, p in enumerate(PEOPLE)
    ]).to_csv(orders, index=False)
    events = folder / "events.ndjson"
    events.write_text("\n".join(json.dumps(e) for e in _events()) + "\n", encoding="utf-8")
    with held_open(ws):     # closed (checkpointed) before anyone copies it
        ingest_file(ws, ADMIN, "contacts", contacts, "crm")
        ingest_file(ws, ADMIN, "orders", orders, "shop")
        ingest_file(ws, ADMIN, "events", events, "web")
        for source in ("crm", "shop", "events"):   # CRM, shop and website share one customer numbering
            set_namespace(ws, ADMIN, source, "customers")
        resolve(ws, ADMIN, full=True)
        refresh(ws)         # as `cdp resolve` does: the screens have their read tables
    return ws


def table_counts(ws) -> dict[str, int]:
    tables = ["profiles", "profile_identifiers", "profile_members", "contacts", "events", "orders",
              "audit_log", "segments"]
    with ws.connect() as con:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
