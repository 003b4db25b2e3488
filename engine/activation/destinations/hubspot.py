"""HubSpot list membership (CRM v3): contacts are found or created by email, then their
record ids are added to or removed from a list. At most 100 contacts a batch."""
from __future__ import annotations

import json

from engine.activation.destinations.base import BatchContext, BatchResult, EmailListDestination
from engine.activation.http import HttpClient, Request


class HubSpotList(EmailListDestination):
    kind = "hubspot"
    label = "HubSpot list"
    batch_size = 100
    default_base_url = "https://api.hubapi.com"
    secret_names = ("access_token",)
    required_settings = ("list_id",)
    optional_settings = {"base_url": "API root (default: api.hubapi.com)"}
    erasure_action = "contact permanently deleted (GDPR delete)"

    def erase_one(self, email: str) -> Request:
        """POST /crm/v3/objects/contacts/gdpr-delete by email: deletes the contact and its
        associated content (HubSpot blocklists an email it does not know)."""
        return Request("POST", f"{self.base_url}/crm/v3/objects/contacts/gdpr-delete",
                       json.dumps({"objectId": email, "idProperty": "email"}).encode(), self._headers())

    def _headers(self):
        return {"Content-Type": "application/json",
                "Authorization": f"Bearer {self.secret('access_token')}"}

    def _lookup(self, members, ctx) -> Request:
        if ctx.op == "add":
            inputs = ",".join('{"idProperty":"email","id":' + m + ',"properties":{"email":' + m + "}}"
                              for m in members)
            return Request("POST", f"{self.base_url}/crm/v3/objects/contacts/batch/upsert",
                           ('{"inputs":[' + inputs + "]}").encode(), self._headers())
        inputs = ",".join('{"id":' + m + "}" for m in members)
        return Request("POST", f"{self.base_url}/crm/v3/objects/contacts/batch/read",
                       ('{"idProperty":"email","properties":["email"],"inputs":[' + inputs + "]}").encode(),
                       self._headers())

    def requests(self, members, ctx: BatchContext):
        # The membership call needs the record ids the first call returns; shown with a placeholder.
        verb = "add" if ctx.op == "add" else "remove"
        return [self._lookup(members, ctx),
                Request("PUT", f"{self.base_url}/crm/v3/lists/{self.settings['list_id']}/memberships/{verb}",
                        b'["<record ids from the first call>"]', self._headers())]

    def send(self, client: HttpClient, members, ctx: BatchContext) -> BatchResult:
        found = client.send(self._lookup(members, ctx), self.describe_error).json()
        ids = [str(r["id"]) for r in found.get("results", []) if r.get("id") is not None]
        verb = "add" if ctx.op == "add" else "remove"
        resp = client.send(Request("PUT",
                                   f"{self.base_url}/crm/v3/lists/{self.settings['list_id']}/memberships/{verb}",
                                   json.dumps(ids).encode(), self._headers()), self.describe_error)
        data = resp.json()
        missing = len(data.get("recordIdsMissing") or [])
        failed = len(members) - len(ids) + missing if ctx.op == "add" else missing
        return BatchResult(sent=len(members) - failed, failed=failed,
                           response={k: v for k, v in data.items() if k != "recordIdsAdded"})
