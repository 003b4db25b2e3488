"""Klaviyo list membership that leaves every profile's consent as it is.

Klaviyo's list endpoints change membership only; its subscription endpoints change consent
(bulk subscribe clears UNSUBSCRIBE and SPAM_REPORT suppressions, bulk unsubscribe opts the
person out of email marketing). A sync never calls the subscription endpoints:

- add: "Bulk Import Profiles" (POST /api/profile-bulk-import-jobs) creates or updates each
  profile by email and adds it to the list through the job's `lists` relationship; the
  import carries no `subscriptions`, so consent is untouched. One job per batch.
- remove: "Remove Profiles from List" (DELETE /api/lists/{id}/relationships/profiles) takes
  profile ids, so the emails are first looked up with "Get Profiles"
  (filter `any(email, [...])`, at most 100 a page); an email Klaviyo does not know is not on
  the list and needs nothing.

Who may be sent: people with email-marketing consent (purpose `email`), not advertising.
"""
from __future__ import annotations

import json
import urllib.parse

from engine.activation.destinations.base import BatchContext, BatchResult, EmailListDestination
from engine.activation.http import HttpClient, Request

# The API revision every request names. Klaviyo supports a revision for two years (stable,
# then deprecated) and retires it after; move this forward at least once a year.
REVISION = "2026-10-15"
LIST_MAX = 1_000        # Add/Remove Profiles to/from List: at most 1,000 profiles a call
IMPORT_MAX = 10_000     # Bulk Import Profiles: at most 10,000 profiles (5 MB) a job
LOOKUP_PAGE = 100       # Get Profiles: page[size] at most 100


class KlaviyoList(EmailListDestination):
    kind = "klaviyo"
    label = "Klaviyo list"
    batch_size = LIST_MAX
    default_base_url = "https://a.klaviyo.com"
    secret_names = ("api_key",)
    required_settings = ("list_id",)
    optional_settings = {"base_url": "API root (default: a.klaviyo.com)"}
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

    @property
    def _list_id(self) -> str:
        return str(self.settings["list_id"])

    def _import(self, members) -> Request:
        profiles = ",".join('{"type":"profile","attributes":{"email":' + m + "}}" for m in members)
        body = ('{"data":{"type":"profile-bulk-import-job","attributes":{"profiles":{"data":['
                + profiles + ']}},"relationships":{"lists":{"data":[{"type":"list","id":'
                + json.dumps(self._list_id) + "}]}}}}")
        return Request("POST", f"{self.base_url}/api/profile-bulk-import-jobs", body.encode(), self._headers())

    def _lookup(self, emails_json: list[str]) -> Request:
        query = urllib.parse.urlencode({"filter": "any(email,[" + ",".join(emails_json) + "])",
                                        "fields[profile]": "email", "page[size]": str(LOOKUP_PAGE)})
        return Request("GET", f"{self.base_url}/api/profiles?{query}", None, self._headers())

    def _unlist(self, profile_ids: list[str]) -> Request:
        body = json.dumps({"data": [{"type": "profile", "id": i} for i in profile_ids]})
        return Request("DELETE", f"{self.base_url}/api/lists/{urllib.parse.quote(self._list_id)}"
                       "/relationships/profiles", body.encode(), self._headers())

    def requests(self, members, ctx: BatchContext):
        if ctx.op == "add":
            return [self._import(members)]
        # The removal needs the profile ids the lookup returns; shown with a placeholder.
        return [self._lookup(members[:LOOKUP_PAGE]), self._unlist(["<profile ids from the lookup>"])]

    def profile_ids(self, client: HttpClient, members: list[str]) -> list[str]:
        """Klaviyo's profile ids of these emails (JSON strings), by pages of 100."""
        ids: list[str] = []
        for i in range(0, len(members), LOOKUP_PAGE):
            req = self._lookup(members[i:i + LOOKUP_PAGE])
            while req is not None:
                data = client.send(req, self.describe_error).json()
                ids += [str(p["id"]) for p in data.get("data") or [] if p.get("id")]
                nxt = (data.get("links") or {}).get("next")
                req = Request("GET", nxt, None, self._headers()) if nxt else None
        return ids

    def send(self, client: HttpClient, members, ctx: BatchContext) -> BatchResult:
        if ctx.op == "add":
            resp = client.send(self._import(members), self.describe_error)
            job = resp.json().get("data") or {}
            return BatchResult(sent=len(members), response={
                "import_job": job.get("id"), "status": (job.get("attributes") or {}).get("status")})
        ids = self.profile_ids(client, members)
        for i in range(0, len(ids), LIST_MAX):
            client.send(self._unlist(ids[i:i + LIST_MAX]), self.describe_error)
        return BatchResult(sent=len(members), response={"profiles_removed": len(ids),
                                                        "not_known_to_klaviyo": len(members) - len(ids)})
