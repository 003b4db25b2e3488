"""The sandbox: a destination that needs no credentials and sends nothing.

It previews one platform (setting `platform`: meta by default, or google, klaviyo, hubspot,
webhook). Members are keyed, hashed and shaped by that platform's own destination class, and
each batch becomes the request(s) that class builds, written to a file under the workspace
folder (engine.activation.sandbox_files) instead of being sent. Everything else is the sync's,
as for any destination: consent and suppression, holdouts, diff syncs (adds and removes
against what the sandbox already holds), dry runs, resumable batches, history, the audit log.

Every workspace has one called `sandbox` (migration 0075), previewing Meta Custom Audiences.
"""
from __future__ import annotations

from engine.activation import sandbox_files
from engine.activation.destinations.base import BatchContext, BatchResult, Destination
from engine.activation.destinations.google import GoogleCustomerMatch
from engine.activation.destinations.hubspot import HubSpotList
from engine.activation.destinations.klaviyo import KlaviyoList
from engine.activation.destinations.linkedin import LinkedInSegment
from engine.activation.destinations.meta import MetaCustomAudience
from engine.activation.destinations.webhook import Webhook

PLATFORMS: dict[str, type[Destination]] = {
    cls.kind: cls for cls in (MetaCustomAudience, GoogleCustomerMatch, KlaviyoList, HubSpotList, LinkedInSegment,
                              Webhook)}
DEFAULT_PLATFORM = "meta"
# Stand-ins for the ids and credentials a real account would have; they appear in the files.
PLACEHOLDER_SETTINGS = {"audience_id": "sandbox", "customer_id": "0000000000", "list_id": "sandbox",
                        "segment_id": "sandbox",
                        "base_url": "https://receiver.example/sandbox", "terms_of_service_accepted": "yes"}
PLACEHOLDER_SECRET = "<from secrets>"
PASSED_ON = ("default_country", "batch_size", "include_plain", "max_body_kb", "value_based")


class Sandbox(Destination):
    kind = "sandbox"
    label = "Sandbox (writes files, no credentials)"
    optional_settings = {
        "platform": f"whose payload to write: {', '.join(PLATFORMS)} (default {DEFAULT_PLATFORM})",
        "default_country": "ISO code for phone numbers without a country code",
        "include_plain": "webhook preview: yes to write plain email/phone beside the hashes",
    }

    def __init__(self, name, settings=None, secrets=None, folder=None):
        super().__init__(name, settings, secrets, folder)
        platform = str(self.settings.get("platform") or DEFAULT_PLATFORM).strip().lower()
        if platform not in PLATFORMS:
            raise ValueError(f"The sandbox previews one of {', '.join(PLATFORMS)}; got {platform!r}.")
        cls = PLATFORMS[platform]
        inner = {k: PLACEHOLDER_SETTINGS.get(k, "sandbox") for k in cls.required_settings}
        if "terms_of_service_accepted" in cls.optional_settings:
            inner["terms_of_service_accepted"] = PLACEHOLDER_SETTINGS["terms_of_service_accepted"]
        inner.update({k: self.settings[k] for k in PASSED_ON if self.settings.get(k)})
        self.platform = cls(name, inner, {k: PLACEHOLDER_SECRET for k in cls.secret_names})
        # Who may be sent, how many per request and how they match: the platform's rules.
        self.batch_size = self.platform.batch_size
        self.consent_purposes = self.platform.consent_purposes
        self.hashed = self.platform.hashed
        self.match_rates = self.platform.match_rates
        self.max_body_bytes = self.platform.max_body_bytes
        self.label = f"Sandbox: what {cls.label} would receive, written to files"

    def keys(self, c):
        return self.platform.keys(c)

    def member_sql(self, k):
        return self.platform.member_sql(k)

    def requests(self, members, ctx: BatchContext):
        return self.platform.requests(members, ctx)

    def audience_folder(self, audience_key: str):
        if self.folder is None:
            raise ValueError(f"Destination {self.name!r} writes under the workspace folder; open it "
                             "through the workspace (engine.activation.config.get_destination).")
        return sandbox_files.audience_folder(self.folder, audience_key)

    def send(self, client, members, ctx: BatchContext) -> BatchResult:
        recorder = sandbox_files.RequestRecorder(self.audience_folder(ctx.audience_key), self.platform.kind,
                                                 self.platform.label, audience=ctx.audience_key)
        reqs = self.requests(members, ctx)
        for i, req in enumerate(reqs):
            what = f"run{ctx.run_id}-{ctx.op}-{ctx.batch_no + 1}" + (f"-{i + 1}" if len(reqs) > 1 else "")
            recorder.record(req, what)
        return BatchResult(sent=len(members), response={"files": [p.name for p in recorder.written]})


def written(workspace, destination: str, audience_key: str | None = None, limit: int = 10) -> dict | None:
    """What a sandbox destination wrote, newest first: {"folder", "root", "files"} (files as
    sandbox_files.latest lists them) for one audience or all; None when `destination` is not a sandbox."""
    kind = workspace.scalar("SELECT kind FROM activation_destinations WHERE name = ?", [destination])
    if kind != Sandbox.kind:
        return None
    root = sandbox_files.root(workspace)
    folder = sandbox_files.audience_folder(workspace.folder, audience_key) if audience_key else root
    return {"folder": folder, "root": root, "files": sandbox_files.latest(workspace, folder, limit)}
