"""Klaviyo list subscribe: bulk subscription jobs (JSON:API), at most 1,000 profiles a job.

Adds subscribe the profile's email to the list (email consent is required on top of
advertising consent); removes unsubscribe it from that list.
"""
from __future__ import annotations

import json

from engine.activation.destinations.base import BatchContext, EmailListDestination
from engine.activation.http import Request

REVISION = "2024-10-15"


class KlaviyoList(EmailListDestination):
    kind = "klaviyo"
    label = "Klaviyo list"
    batch_size = 1_000
    default_base_url = "https://a.klaviyo.com"
    secret_names = ("api_key",)
    required_settings = ("list_id",)
    optional_settings = {"base_url": "API root (default: a.klaviyo.com)"}
    consent_purposes = ("advertising", "email")
    erasure_action = "profile deleted (Data Privacy API: Request Profile Deletion)"

    def _headers(self):
        return {"Content-Type": "application/vnd.api+json", "Accept": "application/vnd.api+json",
                "revision": REVISION, "Authorization": f"Klaviyo-API-Key {self.secret('api_key')}"}

    def erase_one(self, email: str) -> Request:
        """POST /api/data-privacy-deletion-jobs: deletes every profile with this email (one
        identifier per job; the deletion runs asynchronously at Klaviyo)."""
        body = {"data": {"type": "data-privacy-deletion-job", "attributes": {
            "profile": {"data": {"type": "profile", "attributes": {"email": email}}}}}}
        return Request("POST", f"{self.base_url}/api/data-privacy-deletion-jobs",
                       json.dumps(body).encode(), self._headers())

    def requests(self, members, ctx: BatchContext):
        if ctx.op == "add":
            kind = "profile-subscription-bulk-create-job"
            pre = '{"type":"profile","attributes":{"email":'
            post = ',"subscriptions":{"email":{"marketing":{"consent":"SUBSCRIBED"}}}}}'
        else:
            kind = "profile-subscription-bulk-delete-job"
            pre, post = '{"type":"profile","attributes":{"email":', "}}"
        profiles = "[" + ",".join(pre + m + post for m in members) + "]"
        body = ('{"data":{"type":' + json.dumps(kind) + ',"attributes":{"profiles":{"data":' + profiles
                + '}},"relationships":{"list":{"data":{"type":"list","id":'
                + json.dumps(str(self.settings["list_id"])) + "}}}}}")
        return [Request("POST", f"{self.base_url}/api/{kind}s", body.encode(), self._headers())]
