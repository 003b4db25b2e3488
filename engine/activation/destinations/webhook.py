"""A generic webhook: JSON batches sent and signed as Standard Webhooks (standardwebhooks.com).

Each request is one event: `{"type", "timestamp", "data"}` with `type` one of
`audience.members.added`, `audience.members.removed`, `profile.deleted`, `timestamp` the ISO
8601 time it was sent, and `data` the audience, the batch and its `members`. Batches are sized
so that a request stays under 20 kB (the size the spec recommends; setting `max_body_kb`).

Headers `webhook-id` (stable per batch, so a receiver can drop a batch resent after a
crash), `webhook-timestamp` (Unix seconds) and `webhook-signature` = "v1," + base64 of
HMAC-SHA256 over "{id}.{timestamp}.{body}" with the secret (a "whsec_" secret is
base64-decoded first, as the Standard Webhooks libraries do).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import datetime, timezone

from engine.activation import normalise
from engine.activation.destinations.base import BatchContext, BatchResult, Destination, ErasureContext, json_list
from engine.activation.http import Request

TRUE = {"1", "true", "yes", "y"}


def signing_key(secret: str) -> bytes:
    if secret.startswith("whsec_"):
        return base64.b64decode(secret[len("whsec_"):])
    return secret.encode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(signing_key(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


class Webhook(Destination):
    kind = "webhook"
    label = "Webhook (signed JSON)"
    batch_size = 1_000
    default_base_url = ""
    secret_names = ("secret",)
    required_settings = ("base_url",)
    optional_settings = {"include_plain": "yes to send plain email/phone beside the hashes",
                         "batch_size": "at most this many members per request (default 1000)",
                         "max_body_kb": "largest request body in kB (default 20, as Standard Webhooks recommend)",
                         "default_country": "ISO code for phone numbers without a country code"}

    def keys(self, c):
        p = normalise.plain_contact(c, self.default_country)
        out = {"profile_id": c["profile_id"], "email_sha256": normalise.hashed(c["email"], p["email"]),
               "phone_sha256": normalise.hashed(c["phone"], p["phone"])}
        if str(self.settings.get("include_plain", "")).lower() in TRUE:
            out.update(email=p["email"], phone=p["phone"])
        return out

    def member_sql(self, k):
        email, phone = k["email_sha256"], k["phone_sha256"]
        fields = ", ".join(f"'{name}', {sql}" for name, sql in k.items())
        return (f"(CASE WHEN {email} IS NOT NULL OR {phone} IS NOT NULL THEN "
                f"json_object({fields})::VARCHAR END)")

    erasure_action = "sent a profile.deleted event"

    @property
    def max_body_bytes(self) -> int:
        return int(float(self.settings.get("max_body_kb") or 20) * 1000)

    @staticmethod
    def _event(event_type: str, data: dict, members: list[str]) -> bytes:
        """A Standard Webhooks payload; members are JSON fragments already."""
        head = json.dumps({"type": event_type,
                           "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                           "data": data})
        return (head[:-2] + ',"members":' + json_list(members) + "}}").encode()

    def _signed(self, msg_id: str, body: bytes) -> Request:
        ts = int(time.time())
        return Request("POST", self.base_url, body, {
            "Content-Type": "application/json", "webhook-id": msg_id,
            "webhook-timestamp": str(ts),
            "webhook-signature": sign(self.secret("secret"), msg_id, ts, body)})

    def erase(self, client, members, ctx: ErasureContext) -> BatchResult:
        """One `profile.deleted` event listing the person as they were sent (hashes; plain
        values too when this webhook gets them): the receiver deletes what it holds."""
        msg_id = f"msg_erasure_{ctx.request_id}"
        body = self._event("profile.deleted", {"request_id": ctx.request_id}, members)
        resp = client.send(self._signed(msg_id, body), self.describe_error)
        return BatchResult(sent=len(members), response=resp.json())

    def requests(self, members, ctx: BatchContext):
        event = "audience.members.added" if ctx.op == "add" else "audience.members.removed"
        msg_id = f"msg_{ctx.run_id}_{ctx.op}_{ctx.batch_no}"
        body = self._event(event, {"audience": ctx.audience_key, "run_id": ctx.run_id,
                                   "batch": ctx.batch_no + 1, "batches": ctx.batch_count}, members)
        return [self._signed(msg_id, body)]
