"""The forwarding sandbox: a destination that needs no credentials and sends nothing.

A forwarding destination of kind `sandbox` previews one platform (setting `platform`:
meta_capi by default, or any kind of engine.forward.destinations). It is configured, queued and delivered as that
platform with placeholder ids, so consent and suppression, payloads, batches, the delivery log
and the audit log are the real ones; only the last step differs: each request is written to a
file under <workspace folder>/sandbox/conversions/ (engine.activation.sandbox_files) instead
of being sent. Every workspace has one called `sandbox` (migration 0095); it forwards nothing
until an event is mapped to it.
"""
from __future__ import annotations

from engine.activation import sandbox_files
from engine.forward import destinations

KIND = "sandbox"
PLATFORMS = tuple(destinations.KINDS)
DEFAULT_PLATFORM = "meta_capi"
# Stand-ins for a real account's ids ("sandbox" for any other required setting) and token;
# they appear in the files, nothing is sent.
PLACEHOLDER_SETTINGS = {"account_id": "0000000000"}
PLACEHOLDER_TOKEN = "<from secrets>"


def platform_of(settings: dict) -> tuple[str, dict]:
    """(platform kind, its settings with placeholder ids) for a sandbox's settings."""
    platform = settings.get("platform") or DEFAULT_PLATFORM
    if platform not in PLATFORMS:
        raise ValueError(f"The sandbox previews one of {', '.join(PLATFORMS)}; got {platform!r}.")
    kept = {k: v for k, v in settings.items() if k != "platform"}
    placeholders = {k: PLACEHOLDER_SETTINGS.get(k, "sandbox") for k in destinations.KINDS[platform].required_settings}
    return platform, {**placeholders, **kept}


def folder(workspace, destination: str):
    return sandbox_files.conversions_folder(workspace.folder, destination)


def recorder(workspace, dest: dict) -> sandbox_files.RequestRecorder:
    """What delivery uses instead of an HttpClient for a sandbox destination."""
    return sandbox_files.RequestRecorder(folder(workspace, dest["name"]), dest["kind"], dest["label"],
                                         rows_key=destinations.KINDS[dest["kind"]].events_key)


def written(workspace, destination: str, limit: int = 10) -> dict:
    """{"folder", "files"}: the files a forwarding sandbox wrote, newest first."""
    where = folder(workspace, destination)
    return {"folder": where, "files": sandbox_files.latest(workspace, where, limit)}
