"""Google Customer Match through the Data Manager API:
POST /v1/audienceMembers:ingest and /v1/audienceMembers:remove.

Each member is {"userData": {"userIdentifiers": [...]}} with hashed email and E.164 phone and
an address (hashed names, plain region and postal code); HEX encoding; at most 10,000
members per request. Ingest carries the Customer Match terms-of-service status and the
request-level consent (only people who consented to advertising are ever sent).
"""
from __future__ import annotations

import json

from engine.activation import normalise
from engine.activation.destinations.base import BatchContext, Destination, json_list
from engine.activation.http import Request

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
                        {"Content-Type": "application/json",
                         "Authorization": f"Bearer {self.secret('access_token')}"})]
