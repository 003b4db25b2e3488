"""Google Customer Match through the Data Manager API:
POST /v1/audienceMembers:ingest and /v1/audienceMembers:remove.

Each ingest or removal answers with a `requestId`; once a run is sent, the destination asks
GET /v1/requestStatus:retrieve for each one and keeps the diagnostics (status, error and
warning reasons with their record counts, records and identifiers received, the upload's match
rate range) as the run's report.

Each member is {"userData": {"userIdentifiers": [...]}} with hashed email and E.164 phone and
an address (hashed names, plain region and postal code); HEX encoding; at most 10,000
members per request. Ingest carries the Customer Match terms-of-service status and the
request-level consent (only people who consented to advertising are ever sent).
"""
from __future__ import annotations

import json

import urllib.parse

from engine.activation import feedback, normalise
from engine.activation.destinations.base import BatchContext, Destination, json_list
from engine.activation.http import DeliveryError, Request

TRUE = {"1", "true", "yes", "y", "accepted"}


class GoogleCustomerMatch(Destination):
    kind = "google"
    label = "Google Customer Match (Data Manager API)"
    batch_size = 10_000
    default_base_url = "https://datamanager.googleapis.com/v1"
    secret_names = ("access_token",)
    required_settings = ("customer_id", "audience_id")
    optional_settings = {
        "account_type": "GOOGLE_ADS (default), DISPLAY_VIDEO_ADVERTISER, ...",
        "login_customer_id": "manager account used to log in, if any",
        "terms_of_service_accepted": "yes once the Customer Match terms are accepted",
        "default_country": "ISO code for phone numbers without a country code",
        "base_url": "API root (default: datamanager.googleapis.com/v1)",
    }

    def keys(self, c):
        return normalise.google_keys(c, self.default_country)

    def member_sql(self, k):
        address = (f"CASE WHEN {k['givenName']} IS NOT NULL AND {k['familyName']} IS NOT NULL AND "
                   f"{k['regionCode']} IS NOT NULL AND {k['postalCode']} IS NOT NULL THEN "
                   f"'{{\"address\":{{\"givenName\":\"' || {k['givenName']} || '\",\"familyName\":\"' || "
                   f"{k['familyName']} || '\",\"regionCode\":' || to_json({k['regionCode']}) || "
                   f"',\"postalCode\":' || to_json({k['postalCode']}) || '}}}}' END")
        ids = (f"concat_ws(',', "
               f"CASE WHEN {k['emailAddress']} IS NOT NULL THEN '{{\"emailAddress\":\"' || {k['emailAddress']} || '\"}}' END, "
               f"CASE WHEN {k['phoneNumber']} IS NOT NULL THEN '{{\"phoneNumber\":\"' || {k['phoneNumber']} || '\"}}' END, "
               f"{address})")
        return (f"(CASE WHEN {ids} <> '' THEN "
                f"'{{\"userData\":{{\"userIdentifiers\":[' || {ids} || ']}}}}' END)")

    def _destinations(self) -> list[dict]:
        dest = {"operatingAccount": {"accountType": self.settings.get("account_type") or "GOOGLE_ADS",
                                     "accountId": str(self.settings["customer_id"]).replace("-", "")},
                "productDestinationId": str(self.settings["audience_id"])}
        if self.settings.get("login_customer_id"):
            dest["loginAccount"] = {"accountType": "GOOGLE_ADS",
                                    "accountId": str(self.settings["login_customer_id"]).replace("-", "")}
        return [dest]

    def requests(self, members, ctx: BatchContext):
        head = {"destinations": self._destinations(), "encoding": "HEX"}
        if ctx.op == "add":
            if str(self.settings.get("terms_of_service_accepted", "")).strip().lower() not in TRUE:
                raise ValueError(
                    f"Destination {self.name!r}: Google requires the Customer Match terms of service "
                    "to be accepted; set terms_of_service_accepted=yes once your account has.")
            head["termsOfService"] = {"customerMatchTermsOfServiceStatus": "ACCEPTED"}
            head["consent"] = {"adUserData": "CONSENT_GRANTED", "adPersonalization": "CONSENT_GRANTED"}
        body = json.dumps(head)[:-1] + ',"audienceMembers":' + json_list(members) + "}"
        verb = "ingest" if ctx.op == "add" else "remove"
        return [Request("POST", f"{self.base_url}/audienceMembers:{verb}", body.encode(),
                        {"Content-Type": "application/json", **self._auth()})]

    # -- request diagnostics ------------------------------------------------
    def batch_report(self, response):
        rid = (response or {}).get("requestId")
        return {"request_ids": [rid]} if rid else {}

    def finish_report(self, client, report):
        """Ask for each request's status and add up what Google reports for this destination."""
        out = dict(report)
        for rid in report.get("request_ids", [])[:50]:
            url = f"{self.base_url}/requestStatus:retrieve?" + urllib.parse.urlencode({"requestId": rid})
            try:
                data = client.send(Request("GET", url, None, self._auth()), self.describe_error).json()
            except DeliveryError as exc:
                out["diagnostics_error"] = getattr(exc, "message", None) or str(exc)
                break
            for status in data.get("requestStatusPerDestination") or []:
                out = feedback.merge(out, _status_report(status))
        if out.get("match_rate_range"):
            out["match_rate"] = feedback.range_midpoint(out["match_rate_range"])
        return out

    def _auth(self) -> dict:
        return {"Authorization": f"Bearer {self.secret('access_token')}"}


def _status_report(status: dict) -> dict:
    """One RequestStatusPerDestination as report counts."""
    out: dict = {"request_status": {str(status.get("requestStatus") or "UNKNOWN"): 1}}
    for info, key in (("errorInfo", "errors"), ("warningInfo", "warnings")):
        counts = (status.get(info) or {}).get("errorCounts" if key == "errors" else "warningCounts") or []
        if counts:
            out[key] = {str(c.get("reason")): int(c.get("recordCount") or 0) for c in counts}
    for kind in ("audienceMembersIngestionStatus", "audienceMembersRemovalStatus"):
        user = ((status.get(kind) or {}).get("userDataIngestionStatus")
                or (status.get(kind) or {}).get("userDataRemovalStatus") or {})
        if user:
            out["record_count"] = int(user.get("recordCount") or 0)
            out["user_identifier_count"] = int(user.get("userIdentifierCount") or 0)
            if user.get("uploadMatchRateRange"):
                out["match_rate_range"] = user["uploadMatchRateRange"]
    return out
