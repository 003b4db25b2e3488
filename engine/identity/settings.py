"""Identity settings: stored as JSON in the core `settings` table (key 'identity')."""
from __future__ import annotations

import copy
import json
from typing import Any

from engine.access import audit, require

SETTINGS_KEY = "identity"

DEFAULTS: dict[str, Any] = {
    "default_region": "US",
    # Strong identifiers that join records, highest priority first (conflicts keep the higher).
    "identifier_priority": ["user_id", "customer_id", "email", "email_key", "phone", "anonymous_id"],
    # At most this many distinct values of a type in one profile; more sends the merge to review.
    "max_per_profile": {"user_id": 1, "customer_id": 1, "email": 5, "phone": 5},
    # Junk values never used to join records (compared after normalisation).
    "blocklist": ["test@test.com", "test@example.com", "noemail@noemail.com", "none@none.com",
                  "no@email.com", "null", "none", "nan", "n/a", "na", "-1", "0", "unknown",
                  "anonymous", "undefined", "+10000000000", "+11111111111", "+11234567890",
                  "0000000000", "1234567890"],
    # RE2 syntax (DuckDB's regexp_full_match), matched against the whole normalised value.
    "blocklist_regexes": [r"\+?[01]?(0{7,}|1{9,}|9{9,})", r"test\d*@.*", r".*@(example|test)\.(com|org|net)",
                          r"(no|none|noemail|nomail|na)@.*"],
    # Identifier types whose values a source assigns itself (a CRM's customer number, Stripe's
    # cus_...): scoped to the source's namespace, so two systems' ids for one person never conflict.
    "scoped_identifiers": ["customer_id"],
    # source -> namespace: sources that share one set of customer ids (default: each its own).
    "id_namespaces": {},
    # Per identifier type: "link" joins records deterministically; "evidence" never joins nor
    # conflicts (a hand-keyed id with typos): the fuzzy matcher compares it by edits (evidence_id).
    "identifier_trust": {},
    # An email/phone used by more differently named people than this is junk (a till's email).
    "max_people_per_value": 10,
    # Click and browser ids are recorded on profiles; they join records only if listed here.
    "click_ids_join": False,
    # Fuzzy matching.
    "fuzzy_enabled": True,
    "high_threshold": 0.95,          # at or above: merge automatically
    "low_threshold": 0.60,           # between low and high: review queue; below: ignore
    "household_guard": True,         # same address/surname, different first name and DOB: never
    "cluster_consistency": True,     # no automatic merge may chain two clearly different records
    "use_supervised": True,          # use the reviewer-trained model once it has enough labels
    "min_labels": 30,
    # Golden record: rule per field and source priority (first wins).
    "survivorship": {
        "default": "most_recent",
        "fields": {"email": "most_frequent", "phone": "most_frequent",
                   "first_name": "most_frequent", "last_name": "most_frequent",
                   "date_of_birth": "most_frequent", "address_line1": "most_recent"},
        "source_priority": [],
    },
    "nicknames": {},
}

TRUST_LEVELS = ("link", "evidence")
SURVIVORSHIP_RULES = ("source_priority", "most_recent", "most_frequent", "longest")


def load_settings(workspace) -> dict[str, Any]:
    """Saved settings merged over the defaults."""
    row = workspace.query_rows("SELECT value FROM settings WHERE key = ?", [SETTINGS_KEY])
    settings = copy.deepcopy(DEFAULTS)
    if row and row[0][0]:
        saved = json.loads(row[0][0]) if isinstance(row[0][0], str) else row[0][0]
        for key, value in saved.items():
            if isinstance(value, dict) and isinstance(settings.get(key), dict):
                settings[key] = {**settings[key], **value}
            else:
                settings[key] = value
    return settings


def validate_settings(settings: dict[str, Any]) -> None:
    low, high = float(settings["low_threshold"]), float(settings["high_threshold"])
    if not 0 <= low <= high <= 1:
        raise ValueError("Thresholds must satisfy 0 <= low <= high <= 1.")
    for field, rule in settings["survivorship"].get("fields", {}).items():
        if rule not in SURVIVORSHIP_RULES:
            raise ValueError(f"Unknown survivorship rule {rule!r} for {field}; "
                             f"use one of {', '.join(SURVIVORSHIP_RULES)}.")
    if settings["survivorship"].get("default") not in SURVIVORSHIP_RULES:
        raise ValueError("Unknown default survivorship rule.")
    import duckdb
    for pattern in settings.get("blocklist_regexes", []):
        try:
            duckdb.execute("SELECT regexp_full_match('x', ?)", [pattern]).fetchall()
        except duckdb.Error as exc:
            raise ValueError(f"Blocklist pattern {pattern!r} is not a valid RE2 regex: {exc}") from None
    for key, value in settings.get("identifier_trust", {}).items():
        if value not in TRUST_LEVELS:
            raise ValueError(f"Trust for {key} must be one of {', '.join(TRUST_LEVELS)}.")
    for source, namespace in settings.get("id_namespaces", {}).items():
        if not str(namespace).strip():
            raise ValueError(f"The namespace of source {source!r} is empty.")
    for key, value in settings.get("max_per_profile", {}).items():
        if int(value) < 1:
            raise ValueError(f"max_per_profile for {key} must be at least 1.")
    import phonenumbers
    if settings["default_region"] not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"Unknown phone region {settings['default_region']!r}.")


def save_settings(workspace, user, changes: dict[str, Any]) -> dict[str, Any]:
    """Merge changes into the saved settings after validating them; audited."""
    require(user, "resolve")
    current = load_settings(workspace)
    merged = copy.deepcopy(current)
    for key, value in changes.items():
        if key not in DEFAULTS:
            raise ValueError(f"Unknown identity setting {key!r}.")
        merged[key] = value
    validate_settings(merged)
    with workspace.transaction() as con:
        con.execute(
            "INSERT OR REPLACE INTO settings (key, value, updated_at, updated_by) VALUES (?, ?, now(), ?)",
            [SETTINGS_KEY, json.dumps(merged), user.username])
        audit(con, user, "identity.settings", SETTINGS_KEY, {"changed": sorted(changes)})
    return merged


def identifier_rules(workspace, user) -> dict[str, Any]:
    """Per identifier type its priority, trust and limit; per source holding customer ids its namespace;
    pairs of sources in different namespaces whose customer ids coincide (perhaps one namespace).

    {"identifiers": [{"id_type", "priority", "trust", "max_per_profile", "scoped"}],
     "namespaces": [{"source", "namespace", "declared"}],
     "overlaps": [{"source", "other_source", "shared_values"}]}
    """
    require(user, "view")
    settings = load_settings(workspace)
    scoped = set(settings["scoped_identifiers"])
    rules = [{"id_type": t, "priority": i + 1, "trust": settings["identifier_trust"].get(t, "link"),
              "max_per_profile": settings["max_per_profile"].get(t), "scoped": t in scoped}
             for i, t in enumerate(settings["identifier_priority"])]
    ids_sql = " UNION ".join(f"SELECT DISTINCT source, trim(customer_id) AS v FROM {t} WHERE customer_id IS NOT NULL"
                             for t in ("contacts", "orders", "subscriptions", "consents"))
    declared = settings["id_namespaces"]
    sources = sorted({r[0] for r in workspace.query_rows(f"SELECT DISTINCT source FROM ({ids_sql})")}
                     | set(declared))
    namespaces = [{"source": s, "namespace": declared.get(s, s), "declared": s in declared} for s in sources]
    overlaps = [{"source": a, "other_source": b, "shared_values": int(n)}
                for a, b, n in workspace.query_rows(f"""
                    WITH ids AS ({ids_sql})
                    SELECT x.source, y.source, count(*) FROM ids x JOIN ids y ON x.v = y.v AND x.source < y.source
                    GROUP BY ALL ORDER BY 3 DESC, 1, 2""")
                if declared.get(a, a) != declared.get(b, b)]
    return {"identifiers": rules, "namespaces": namespaces, "overlaps": overlaps}


def set_namespace(workspace, user, source: str, namespace: str | None) -> dict[str, Any]:
    """Declare the namespace of a source's own ids (None: the source's own again)."""
    declared = dict(load_settings(workspace)["id_namespaces"])
    if namespace is None:
        declared.pop(source, None)
    else:
        declared[source] = namespace
    return save_settings(workspace, user, {"id_namespaces": declared})


def set_identifier_rule(workspace, user, id_type: str, trust: str | None = None,
                        max_per_profile: int | None = None) -> dict[str, Any]:
    """Change one identifier type's trust (link / evidence) or its limit per profile."""
    settings = load_settings(workspace)
    if id_type not in settings["identifier_priority"]:
        raise ValueError(f"Unknown identifier type {id_type!r}; types are: "
                         f"{', '.join(settings['identifier_priority'])}.")
    changes: dict[str, Any] = {}
    if trust is not None:
        changes["identifier_trust"] = {**settings["identifier_trust"], id_type: trust}
    if max_per_profile is not None:
        changes["max_per_profile"] = {**settings["max_per_profile"], id_type: int(max_per_profile)}
    return save_settings(workspace, user, changes)
