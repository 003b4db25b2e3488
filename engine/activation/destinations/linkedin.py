"""LinkedIn Matched Audiences: users streamed into a DMP segment (Marketing API, DMP Segment Users).

POST /rest/dmpSegments/{segment id}/users with `X-RestLi-Method: BATCH_CREATE`,
`X-Restli-Protocol-Version: 2.0.0` and a `LinkedIn-Version` (YYYYMM) header; the body is
{"elements": [{"action": "ADD" | "REMOVE", "userIds": [{"idType": "SHA256_EMAIL", "idValue": hex}],
"firstName", "lastName"}]}. Emails are trimmed, lowercased and SHA-256 hex encoded; names go as
typed (trimmed). LinkedIn answers with one status per element; those not 2xx count as invalid.

The whole destination is this file plus its line in destinations/__init__.py: the plug-in
interface CONTRIBUTING.md describes.
"""
from __future__ import annotations

from engine.activation import normalise
from engine.activation.destinations.base import BatchContext, BatchResult, Destination, json_list
from engine.activation.http import Request

VERSION = "202610"


class LinkedInSegment(Destination):
    kind = "linkedin"
    label = "LinkedIn Matched Audiences (DMP segment)"
    batch_size = 5_000
    default_base_url = "https://api.linkedin.com/rest"
    secret_names = ("access_token",)
    required_settings = ("segment_id",)
    optional_settings = {"api_version": f"LinkedIn-Version header, YYYYMM (default {VERSION})",
                         "base_url": "API root (default: api.linkedin.com/rest)"}
    match_rates = {"email": 0.35, "phone": 0.0, "address": 0.0, "ad_id": 0.0}

    def keys(self, c):
        return {"email": normalise.hashed(c["email"], f"lower(trim({c['email']}))"),
                "first": f"nullif(trim({c['first_name']}), '')", "last": f"nullif(trim({c['last_name']}), '')"}

    def member_sql(self, k):
        names = " || ".join(f"CASE WHEN {k[key]} IS NOT NULL THEN ',\"{field}\":' || to_json({k[key]}) ELSE '' END"
                            for key, field in (("first", "firstName"), ("last", "lastName")))
        return (f"(CASE WHEN {k['email']} IS NOT NULL THEN "
                f"'{{\"userIds\":[{{\"idType\":\"SHA256_EMAIL\",\"idValue\":\"' || {k['email']} || '\"}}]' "
                f"|| {names} || '}}' END)")

    def requests(self, members, ctx: BatchContext):
        action = '{"action":"' + ("ADD" if ctx.op == "add" else "REMOVE") + '",'
        elements = json_list([action + m[1:] for m in members])
        return [Request("POST", f"{self.base_url}/dmpSegments/{self.settings['segment_id']}/users",
                        ('{"elements":' + elements + "}").encode(),
                        {"Content-Type": "application/json", "X-RestLi-Method": "BATCH_CREATE",
                         "X-Restli-Protocol-Version": "2.0.0",
                         "LinkedIn-Version": str(self.settings.get("api_version") or VERSION),
                         "Authorization": f"Bearer {self.secret('access_token')}"})]

    def result(self, resp, members, ctx):
        statuses = [int(e.get("status") or 0) for e in (resp.json() if resp is not None else {}).get("elements", [])]
        failed = sum(1 for s in statuses if not 200 <= s < 300)
        return BatchResult(sent=len(members) - failed, failed=failed,
                           response={"num_received": len(members), "num_invalid_entries": failed})

    def batch_report(self, response):
        data = response or {}
        return {k: int(data.get(k) or 0) for k in ("num_received", "num_invalid_entries")}
