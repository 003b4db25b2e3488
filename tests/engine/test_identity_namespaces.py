"""Identifier namespaces and trust: a source's own customer ids are scoped to it; exact email
still links across sources; a hand-keyed id declared evidence never joins nor conflicts."""
import pytest
import csv

from engine.identity import resolve
from engine.identity.settings import load_settings, save_settings
from engine.workspace.migrations import available
from tests.engine.identity_helpers import add_contacts, profile_of

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py

TWO_SYSTEMS = [
    dict(source="crm", source_record_id="1", email="ann@shop.io", customer_id="C100"),
    dict(source="stripe", source_record_id="2", email="ann@shop.io", customer_id="cus_9"),
    dict(source="crm", source_record_id="3", email="ann@shop.io", customer_id="C200"),
]


def test_two_systems_ids_for_one_person_are_no_conflict(workspace, admin):
    add_contacts(workspace, TWO_SYSTEMS[:2])
    stats = resolve(workspace, admin)
    assert profile_of(workspace, "crm", "1") == profile_of(workspace, "stripe", "2")
    assert stats["guarded"] == 0


def test_two_ids_of_one_namespace_still_conflict(workspace, admin):
    add_contacts(workspace, TWO_SYSTEMS)
    stats = resolve(workspace, admin)
    assert profile_of(workspace, "crm", "1") != profile_of(workspace, "crm", "3")
    assert stats["guarded"] > 0
    reasons = [r[0] for r in workspace.query_rows("SELECT reason FROM identity_pairs")]
    assert "guard:customer_id@crm" in reasons


def test_a_declared_shared_namespace_joins_and_limits_across_sources(workspace, admin):
    save_settings(workspace, admin, {"id_namespaces": {"crm": "customer", "shop": "customer"}})
    add_contacts(workspace, [dict(source="crm", source_record_id="1", customer_id="C1", first_name="Ann"),
                             dict(source="shop", source_record_id="2", customer_id="C1"),
                             dict(source="pos", source_record_id="3", customer_id="C1")])
    resolve(workspace, admin)
    assert profile_of(workspace, "crm", "1") == profile_of(workspace, "shop", "2")
    assert profile_of(workspace, "pos", "3") != profile_of(workspace, "crm", "1")


def test_an_evidence_only_identifier_neither_joins_nor_conflicts(workspace, admin):
    save_settings(workspace, admin, {"identifier_trust": {"customer_id": "evidence"}})
    add_contacts(workspace, [dict(source="crm", source_record_id="1", customer_id="L-1", email="a@x.io"),
                             dict(source="crm", source_record_id="2", customer_id="L-1"),
                             dict(source="crm", source_record_id="3", customer_id="L-7", email="a@x.io")])
    stats = resolve(workspace, admin)
    assert profile_of(workspace, "crm", "1") == profile_of(workspace, "crm", "3")
    assert profile_of(workspace, "crm", "2") != profile_of(workspace, "crm", "1")
    assert stats["guarded"] == 0


def test_existing_workspaces_keep_one_shared_namespace(workspace, admin):
    add_contacts(workspace, [dict(source="crm", source_record_id="1", customer_id="C1"),
                             dict(source="shop", source_record_id="2", customer_id="C1"),
                             dict(source="web", source_record_id="3", email="b@x.io")])
    migration = next(m for m in available() if m.version == 33)
    settings_sql = migration.sql().split("ALTER TABLE identity_ids ADD COLUMN namespace VARCHAR;", 1)[1]
    with workspace.transaction() as con:
        con.execute(settings_sql)
    assert load_settings(workspace)["id_namespaces"] == {"crm": "shared", "shop": "shared"}
    resolve(workspace, admin)
    assert profile_of(workspace, "crm", "1") == profile_of(workspace, "shop", "2")


def test_a_fresh_workspace_declares_no_namespace(workspace):
    assert load_settings(workspace)["id_namespaces"] == {}


def test_cli_declares_a_shared_namespace_trust_and_limits(workspace, admin, monkeypatch, capsys):
    import json

    from engine.cli.main import main

    monkeypatch.setenv("CDP_WORKSPACE", str(workspace.path))
    add_contacts(workspace, [dict(source="crm", source_record_id="1", customer_id="C1"),
                             dict(source="shop", source_record_id="2", customer_id="C1")])
    assert main(["resolve"]) == 0
    assert profile_of(workspace, "crm", "1") != profile_of(workspace, "shop", "2")
    capsys.readouterr()
    assert main(["identifiers"]) == 0
    assert "crm and shop share 1 customer ids" in capsys.readouterr().out
    assert main(["identifiers", "namespace", "shop", "crm"]) == 0
    assert main(["identifiers", "limit", "email", "2"]) == 0
    assert main(["identifiers", "trust", "phone", "evidence"]) == 0
    assert main(["identifiers", "trust", "nope", "link"]) == 1
    capsys.readouterr()
    assert main(["identifiers", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    rules = {r["id_type"]: r for r in listed["identifiers"]}
    assert rules["email"]["max_per_profile"] == 2 and rules["phone"]["trust"] == "evidence"
    assert {n["source"]: n["namespace"] for n in listed["namespaces"]} == {"crm": "crm", "shop": "crm"}
    assert listed["overlaps"] == []
    assert main(["resolve"]) == 0
    assert profile_of(workspace, "crm", "1") == profile_of(workspace, "shop", "2")
    assert main(["identifiers", "namespace", "shop"]) == 0
    assert load_settings(workspace)["id_namespaces"] == {}
