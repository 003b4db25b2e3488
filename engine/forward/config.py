"""Forwarding destinations (each kind in engine.forward.destinations, and the sandbox) and event mappings."""
from __future__ import annotations

import json
import os
import re
import tomllib

import pandas as pd

from engine.access import User, audit, require
from engine.forward import destinations, sandbox

# What configuration knows of each kind: the platforms' (engine.forward.destinations) and the sandbox.
KINDS = {kind: cls.spec() for kind, cls in destinations.KINDS.items()} | {
    sandbox.KIND: {
        "label": "Sandbox (writes files, no credentials)",
        "required": (),
        "optional": ("platform", "batch_size"),
        "choices": {"platform": sandbox.PLATFORMS},
    },
}


def settings_help() -> str:
    """What each kind takes, one sentence per kind (the screen and `cdp forward add-destination --help`)."""
    def line(spec: dict) -> str:
        needs = ", ".join(spec["required"]) or "nothing"
        optional = [f"{k}={'|'.join(spec['choices'][k])}" if k in spec.get("choices", {}) else k
                    for k in spec["optional"]]
        return f"{spec['label']}: {needs}" + (f" (optional: {', '.join(optional)})" if optional else "") + "."
    return " ".join(line(spec) for spec in KINDS.values())


TRIGGERS = ("event", "order", "stage")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_PATH = re.compile(r"^\$(\.[A-Za-z0-9_]+|\[(\d+|\*)\])*$")


def _secrets_file():
    from pathlib import Path
    return Path(os.environ.get("CDP_SECRETS_FILE") or Path(".streamlit") / "secrets.toml")


def access_token(name: str) -> str | None:
    """The destination's token: [destinations.<name>] access_token in secrets.toml, or
    CDP_DEST_<NAME>_ACCESS_TOKEN. Never stored in the workspace, never logged."""
    env = os.environ.get(f"CDP_DEST_{re.sub(r'[^A-Z0-9]', '_', name.upper())}_ACCESS_TOKEN")
    if env:
        return env
    path = _secrets_file()
    if path.exists():
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        token = ((data.get("destinations") or {}).get(name) or {}).get("access_token")
        return str(token) if token else None
    return None


def add_destination(workspace, user: User, name: str, kind: str, settings: dict) -> None:
    require(user, "manage_destinations")
    name = (name or "").strip().lower()
    if not _NAME.match(name):
        raise ValueError("A destination name is lowercase letters, digits, '-' or '_'.")
    if kind not in KINDS:
        raise ValueError(f"Kind is one of {', '.join(KINDS)}.")
    spec = KINDS[kind]
    clean = {k: str(v).strip() for k, v in (settings or {}).items() if v not in (None, "")}
    unknown = set(clean) - set(spec["required"]) - set(spec["optional"])
    if unknown:
        raise ValueError(f"{spec['label']} has no setting {', '.join(sorted(unknown))}; "
                         "credentials go in secrets.toml or the environment.")
    missing = [k for k in spec["required"] if not clean.get(k)]
    if missing:
        raise ValueError(f"{spec['label']} needs {', '.join(missing)}.")
    if clean.get("base_url") and not re.match(r"^https?://", clean["base_url"]):
        raise ValueError("base_url must start with http:// or https://")
    for key, choices in spec.get("choices", {}).items():
        if key in clean and clean[key] not in choices:
            raise ValueError(f"{key} is one of {', '.join(choices)}; got {clean[key]!r}.")
    with workspace.transaction() as con:
        con.execute("""INSERT OR REPLACE INTO forward_destinations (name, kind, settings, created_by)
                       VALUES (?, ?, ?, ?)""", [name, kind, json.dumps(clean), user.username])
        audit(con, user, "forward.destination", name, {"kind": kind})


def get_destination(workspace, name: str) -> dict:
    """The destination as delivery sees it; a sandbox appears as the platform it previews, with
    placeholder ids, and `sandbox` true."""
    row = workspace.query_rows("SELECT name, kind, settings, enabled FROM forward_destinations WHERE name = ?",
                               [name])
    if not row:
        raise ValueError(f"No forwarding destination called {name!r}.")
    name, kind, settings, enabled = row[0]
    settings = json.loads(settings or "{}")
    is_sandbox = kind == sandbox.KIND
    if is_sandbox:
        kind, settings = sandbox.platform_of(settings)
    spec = KINDS[kind]
    return {"name": name, "kind": kind, "settings": settings, "enabled": enabled,
            "label": f"Sandbox: what {spec['label']} would receive, written to files" if is_sandbox
            else spec["label"],
            "batch_limit": spec["batch_limit"], "sandbox": is_sandbox,
            "base_url": (settings.get("base_url") or spec["base_url"]).rstrip("/")}


def delivery_token(dest: dict) -> str | None:
    """The token delivery puts in requests: a placeholder for a sandbox (it sends nothing)."""
    return sandbox.PLACEHOLDER_TOKEN if dest["sandbox"] else access_token(dest["name"])


def list_destinations(workspace) -> pd.DataFrame:
    return workspace.query_df("SELECT name, kind, settings, enabled, created_at FROM forward_destinations ORDER BY 1")


def add_mapping(workspace, user: User, destination: str, trigger: str, match: str, platform_event: str,
                value_path: str | None = None, currency_path: str | None = None,
                content_ids_path: str | None = None, lookback_days: int = 7) -> int:
    """Forward `match` (an event name, an order source, or a lead stage) as `platform_event`."""
    require(user, "manage_destinations")
    get_destination(workspace, destination)
    if trigger not in TRIGGERS:
        raise ValueError(f"Trigger is one of {', '.join(TRIGGERS)}.")
    if not (match or "").strip() or not (platform_event or "").strip():
        raise ValueError("Say what to forward and under which event name.")
    for path in (value_path, currency_path, content_ids_path):
        if path and not _PATH.match(path):
            raise ValueError(f"{path!r} is not a JSON path like $.revenue or $.products")
    if not 1 <= int(lookback_days) <= 90:
        raise ValueError("Look back between 1 and 90 days.")
    with workspace.transaction() as con:
        mapping_id = con.execute("""
            INSERT INTO forward_mappings (destination, trigger, match, platform_event, value_path, currency_path,
                                          content_ids_path, lookback_days, created_by)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING mapping_id""",
            [destination, trigger, match.strip(), platform_event.strip(), value_path or None, currency_path or None,
             content_ids_path or None, int(lookback_days), user.username]).fetchone()[0]
        audit(con, user, "forward.mapping", destination, {"trigger": trigger, "match": match,
                                                           "platform_event": platform_event})
    return mapping_id


def list_mappings(workspace, destination: str | None = None) -> pd.DataFrame:
    sql = "SELECT * FROM forward_mappings"
    params = []
    if destination:
        sql += " WHERE destination = ?"
        params.append(destination)
    df = workspace.query_df(sql + " ORDER BY mapping_id", params)
    return df.astype(object).where(df.notna(), None)  # missing paths are None, not NaN


def set_mapping_enabled(workspace, user: User, mapping_id: int, enabled: bool) -> None:
    require(user, "manage_destinations")
    with workspace.transaction() as con:
        con.execute("UPDATE forward_mappings SET enabled = ? WHERE mapping_id = ?", [enabled, mapping_id])
        audit(con, user, "forward.mapping_enabled", str(mapping_id), {"enabled": enabled})
