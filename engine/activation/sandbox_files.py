"""Sandbox files: the requests a platform would receive, written under the workspace folder
instead of being sent, and read back for the screens and the CLI.

Sandbox destinations (audiences: engine.activation.destinations.sandbox; conversion forwarding:
engine.forward.sandbox) build each request with the real platform's own code and hand it to a
`RequestRecorder`, which has HttpClient's `send` and writes a file instead:

    <workspace folder>/sandbox/<part>/<UTC time>-<what>.json

`<part>` is the audience (`segment-cart-abandoners`, `tag-vip`) or `conversions`; a sandbox
destination named otherwise than `sandbox` adds `--<its name>`. A file is one line of JSON,
{"sandbox", "platform", "label", "audience", "method", "url", "headers", "body"}: the body
exactly as the platform would receive it, credentials only as placeholders. The files are
personal data (hashed identifiers, or emails for the list tools): they live beside the
workspace file and are as private as it is. One line, because an erasure removes every line
of a workspace text file that names the person (engine.privacy.files): the request naming
them goes as a whole, and what is left is still JSON (or empty, which readers take as no rows).
"""
from __future__ import annotations

import json
import urllib.parse
import os
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import pandas as pd

from engine.access import User, require
from engine.activation.http import Request, Response

ROOT = "sandbox"
DEFAULT_DESTINATION = "sandbox"
NOTE = "Not sent: the sandbox destination wrote what the platform would receive."
# Headers worth seeing; credentials and signatures are left out.
SHOWN_HEADERS = {"content-type", "accept", "revision", "webhook-id", "webhook-timestamp"}


def root(workspace) -> Path:
    return Path(workspace.folder) / ROOT


def slug(text: str) -> str:
    """'segment:Cart abandoners (7 days)' -> 'segment-cart-abandoners-7-days'."""
    out = re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")
    return out[:80] or "audience"


def _part(workspace_folder, label: str, destination: str) -> Path:
    name = slug(label) + ("" if destination == DEFAULT_DESTINATION else f"--{slug(destination)}")
    return Path(workspace_folder) / ROOT / name


def audience_folder(workspace_folder, audience_key: str) -> Path:
    """Where the sandbox writes an audience ('<source>-><destination>', audiences.audience_key)."""
    source, _, destination = audience_key.rpartition("->")
    return _part(workspace_folder, source, destination)


def conversions_folder(workspace_folder, destination: str) -> Path:
    """Where a forwarding sandbox writes conversions."""
    return _part(workspace_folder, "conversions", destination)


class RequestRecorder:
    """Stands in for engine.activation.http.HttpClient: each request becomes a file, answered 200."""

    def __init__(self, folder: Path, platform: str, label: str, audience: str | None = None,
                 clock: Callable[[], datetime] | None = None, rows_key: str | None = None):
        self.folder = Path(folder)
        self.platform = platform
        self.label = label
        self.audience = audience
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.rows_key = rows_key      # the body's key listing the rows (a platform ROWS does not know)
        self.written: list[Path] = []

    def record(self, req: Request, what: str) -> Path:
        body_text = req.body.decode() if req.body else ""
        try:
            body = json.loads(body_text) if body_text else None
        except ValueError:
            body = body_text
        envelope = {"sandbox": NOTE, "platform": self.platform, "label": self.label,
                    # Decoded, so an identifier in a query (Klaviyo's profile lookup) reads as
                    # itself, for people and for an erasure's scrub of this folder.
                    "audience": self.audience, "method": req.method, "url": urllib.parse.unquote(req.url),
                    "headers": {k: v for k, v in req.headers.items() if k.lower() in SHOWN_HEADERS},
                    "body": body, **({"rows_key": self.rows_key} if self.rows_key else {})}
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = self.clock().astimezone(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
        path = self.folder / f"{stamp}-{what}.json"
        n = 1
        while path.exists():
            n += 1
            path = self.folder / f"{stamp}-{what}-{n}.json"
        tmp = path.with_name("." + path.name + ".tmp")
        tmp.write_text(json.dumps(envelope) + "\n", encoding="utf-8")
        os.replace(tmp, path)   # a reader never sees half a file
        self.written.append(path)
        return path

    def send(self, req: Request, describe=None) -> Response:
        """HttpClient's interface: write the request, answer as an accepting platform would."""
        path = self.record(req, "events")
        return Response(200, {}, json.dumps({"sandbox_file": path.name}).encode())


def latest(workspace, folder: Path | None = None, limit: int = 10) -> pd.DataFrame:
    """The newest files under `folder` (default: every sandbox file), newest first:
    written_at, folder, file, kb, path (relative to the sandbox root, for `preview`)."""
    base = root(workspace)
    folder = Path(folder) if folder is not None else base
    files = sorted(folder.rglob("*.json"), key=lambda p: p.name, reverse=True)[:int(limit)] \
        if folder.is_dir() else []
    rows = []
    for p in files:
        stat = p.stat()
        rows.append({"written_at": datetime.fromtimestamp(stat.st_mtime, timezone.utc),
                     "folder": p.parent.name, "file": p.name, "kb": round(stat.st_size / 1024, 1),
                     "path": p.relative_to(base).as_posix()})
    return pd.DataFrame(rows, columns=["written_at", "folder", "file", "kb", "path"])


def read_file(workspace, user: User, path: str) -> dict:
    """One sandbox file (`path` relative to the sandbox root, as `latest` lists it)."""
    require(user, "view_pii")
    base = root(workspace).resolve()
    full = (base / path).resolve()
    if base not in full.parents or full.suffix != ".json" or not full.is_file():
        raise ValueError(f"No sandbox file {path!r}.")
    try:
        return json.loads(full.read_text(encoding="utf-8"))
    except ValueError:   # emptied by an erasure, or edited by hand
        return {}


def preview(workspace, user: User, path: str, limit: int = 20) -> dict:
    """One sandbox file for people to read: {"request": "POST <url>", "rows": how many people
    (or events) it carries, "table": the first `limit` of them as the platform would read them}."""
    envelope = read_file(workspace, user, path)
    body = envelope.get("body")
    try:
        if envelope.get("platform") in ROWS:
            rows = ROWS[envelope["platform"]](body)
        else:   # a forwarded conversions file names the key that lists its events
            rows = body.get(envelope.get("rows_key") or "", []) if envelope.get("rows_key") else []
    except (KeyError, TypeError, AttributeError):   # a body edited out of the platform's shape
        rows = []
    table = pd.json_normalize(rows[:int(limit)], max_level=2) if rows else pd.DataFrame()
    for col in table.columns:   # lists and objects as JSON text, so every column has one type
        table[col] = table[col].map(lambda v: json.dumps(v) if isinstance(v, (list, dict)) else v)
    request = f"{envelope['method']} {envelope['url']}" if envelope else "(emptied by an erasure, or unreadable)"
    return {"request": request, "rows": len(rows), "table": table}


# -- reading members back from each platform's body -------------------------------------------
def _meta_audience(body) -> list[dict]:
    payload = body["payload"]
    return [dict(zip(payload["schema"], row)) for row in payload["data"]]


def _google_audience(body) -> list[dict]:
    out = []
    for member in body.get("audienceMembers", []):
        row: dict = {}
        for ident in member.get("userData", {}).get("userIdentifiers", []):
            row.update(ident)
        out.append(row)
    return out


def _klaviyo(body) -> list[dict]:
    if isinstance(body["data"], list):     # a list relationship call: profile ids
        return [{"profile_id": p.get("id")} for p in body["data"]]
    return [p.get("attributes", {}) for p in body["data"]["attributes"]["profiles"]["data"]]


def _hubspot(body) -> list[dict]:
    if isinstance(body, list):     # the membership call: record ids
        return [{"record_id": r} for r in body]
    return [{"email": i.get("id")} for i in body.get("inputs", [])]


ROWS: dict[str, Callable] = {
    "meta": _meta_audience,
    "google": _google_audience,
    "klaviyo": _klaviyo,
    "hubspot": _hubspot,
    "webhook": lambda body: body.get("members", []),
}   # a forwarded conversions file names its own (`rows_key`: engine.forward.destinations' events_key)
