"""Google Ads conversions through the Data Manager API: POST /v1/events:ingest.

The body names the conversion action (`destinations`: operating account, optional login
account, productDestinationId) and carries at most 2,000 `events`, each with its click ids
(gclid, gbraid, wbraid), HEX-encoded hashed user data (engine.activation.normalise.google_keys)
and consent. `validate_only=true` asks Google to check a request without recording it.

A click conversion is recorded only within its conversion action's click-through window, at
most 90 days (EXPIRED_EVENT). A refused request names its bad events as BadRequest field
violations `events[i]`; refused credentials are HTTP 401/403 or status UNAUTHENTICATED.
"""
from __future__ import annotations

import json
import re

from engine.activation.http import Request
from engine.activation.normalise import google_keys
from engine.forward.destinations.base import ConversionDestination, error_object
from engine.forward.payloads import PERSON_COLUMNS

_EVENT_INDEX = re.compile(r"(?:^|\.)events\[(\d+)\]")


class GoogleConversions(ConversionDestination):
    kind = "google_conversions"
    label = "Google Ads conversions (Data Manager API)"
    platform_name = "Google"
    events_key = "events"
    batch_size = 2000
    default_base_url = "https://datamanager.googleapis.com"
    required_settings = ("account_id", "conversion_action_id")
    optional_settings = {"login_account_id": "manager account used to log in, if any",
                         "base_url": "API root (default: datamanager.googleapis.com)",
                         "batch_size": "events per request, at most 2,000",
                         "validate_only": "true to have Google check requests without recording them"}
    age_limit_days = 90

    @classmethod
    def payload_sql(cls, default_country=None):
        """A Data Manager API Event per row: ad identifiers, hashed user data (HEX), consent."""
        k = google_keys(PERSON_COLUMNS, default_country)
        identifiers = (f"list_filter(list_value("
                       f"CASE WHEN {k['emailAddress']} IS NOT NULL THEN json_object('emailAddress', {k['emailAddress']}) END, "
                       f"CASE WHEN {k['phoneNumber']} IS NOT NULL THEN json_object('phoneNumber', {k['phoneNumber']}) END), "
                       f"lambda x: x IS NOT NULL)")
        return f"""json_merge_patch('{{}}', json_object(
            'transactionId', c.event_id,
            'eventTimestamp', strftime(c.event_time AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ'),
            'eventSource', c.event_source,
            'conversionValue', c.value,
            'currency', c.currency,
            'adIdentifiers', json_merge_patch('{{}}', json_object('gclid', c.gclid, 'gbraid', c.gbraid, 'wbraid', c.wbraid)),
            'userData', CASE WHEN len({identifiers}) > 0 THEN json_object('userIdentifiers', {identifiers}) END,
            'consent', json_object('adUserData', 'CONSENT_GRANTED',
                                   'adPersonalization', CASE WHEN c.sale_sharing_ok THEN 'CONSENT_GRANTED'
                                                             ELSE 'CONSENT_DENIED' END)
        ))"""

    def request(self, payloads):
        destination = {"operatingAccount": {"accountType": "GOOGLE_ADS", "accountId": self.settings["account_id"]},
                       "productDestinationId": self.settings["conversion_action_id"]}
        if self.settings.get("login_account_id"):
            destination["loginAccount"] = {"accountType": "GOOGLE_ADS",
                                           "accountId": self.settings["login_account_id"]}
        body = {"destinations": [destination], "encoding": "HEX", "events": payloads,
                "validateOnly": str(self.settings.get("validate_only", "")).lower() == "true"}
        return Request("POST", f"{self.base_url}/v1/events:ingest", json.dumps(body).encode(),
                       {"Content-Type": "application/json",
                        "Authorization": f"Bearer {self.secret('access_token')}"})

    def rejected_events(self, body, n):
        return field_violations(body, n)

    def refuses_credentials(self, error):
        return error.get("status") == "UNAUTHENTICATED"


def field_violations(body: bytes, n: int) -> dict[int, str]:
    """Google's BadRequest details: {index of the bad event: why}, for indices within the request."""
    out: dict[int, str] = {}
    for detail in error_object(body).get("details") or []:
        for violation in (detail.get("fieldViolations") or []) if isinstance(detail, dict) else []:
            match = _EVENT_INDEX.search(str(violation.get("field") or ""))
            if match and int(match.group(1)) < n:
                out.setdefault(int(match.group(1)),
                               f"The destination rejected this event: {violation.get('description') or 'invalid'} "
                               f"({violation.get('field')})")
    return out
