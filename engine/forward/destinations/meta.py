"""Meta Conversions API: POST /{api_version}/{pixel_id}/events.

The body is {"data": [server events], "access_token": ...} (plus `test_event_code` while
testing), at most 1,000 events. User data is normalised and SHA-256 hashed as Meta documents
(engine.activation.normalise.meta_keys); fbc/fbp, IP and user agent are sent as they are. A
person who refused the sale or sharing of their data is sent with Limited Data Use
(data_processing_options LDU, country and state 0: Meta works out where they are).

"The event_time can be up to 7 days before you send an event ... If any event_time in data is
greater than 7 days in the past, we return an error for the entire request" (server event
parameters); store sales (action_source physical_store) are accepted for up to 62 days. Meta
refuses a whole request for one bad event and names none. An invalid or expired token is an
OAuthException (code 190, or 102 for a session) that may come as HTTP 400.
"""
from __future__ import annotations

import json

from engine.activation.http import Request
from engine.activation.normalise import meta_keys
from engine.forward.destinations.base import ConversionDestination
from engine.forward.payloads import PERSON_COLUMNS, as_list

AUTH_CODES = {190, 102}            # OAuthException: invalid or expired access token / session


class MetaConversions(ConversionDestination):
    kind = "meta_capi"
    label = "Meta Conversions API"
    platform_name = "Meta"
    events_key = "data"
    batch_size = 1000
    default_base_url = "https://graph.facebook.com"
    required_settings = ("pixel_id",)
    optional_settings = {"test_event_code": "Events Manager's test code: events show under Test events",
                         "api_version": "Graph API version (default v21.0)",
                         "base_url": "API root (default: graph.facebook.com)",
                         "batch_size": "events per request, at most 1,000"}
    age_limit_days = 7
    age_limit_days_by_source = {"physical_store": 62}

    @classmethod
    def payload_sql(cls, default_country=None):
        """A Meta Conversions API server event per row (nulls dropped by json_merge_patch)."""
        k = meta_keys(PERSON_COLUMNS, default_country)
        return f"""json_merge_patch('{{}}', json_object(
            'event_name', m.platform_event,
            'event_time', CAST(epoch(c.event_time) AS BIGINT),
            'event_id', c.event_id,
            'action_source', c.action_source,
            'event_source_url', c.source_url,
            'user_data', json_merge_patch('{{}}', json_object(
                'em', {as_list(k['EMAIL'])}, 'ph', {as_list(k['PHONE'])},
                'fn', {as_list(k['FN'])}, 'ln', {as_list(k['LN'])}, 'ct', {as_list(k['CT'])},
                'st', {as_list(k['ST'])}, 'zp', {as_list(k['ZIP'])}, 'country', {as_list(k['COUNTRY'])},
                'external_id', {as_list('sha256(c.profile_id)')},
                'fbc', c.fbc, 'fbp', c.fbp,
                'client_ip_address', c.ip, 'client_user_agent', c.user_agent)),
            'custom_data', json_merge_patch('{{}}', json_object(
                'value', c.value, 'currency', c.currency,
                'content_ids', CAST(c.content_ids AS JSON))),
            'data_processing_options', CASE WHEN c.sale_sharing_ok THEN NULL ELSE list_value('LDU') END,
            'data_processing_options_country', CASE WHEN c.sale_sharing_ok THEN NULL ELSE 0 END,
            'data_processing_options_state', CASE WHEN c.sale_sharing_ok THEN NULL ELSE 0 END
        ))"""

    def request(self, payloads):
        version = self.settings.get("api_version") or "v21.0"
        body = {"data": payloads, "access_token": self.secret("access_token")}
        if self.settings.get("test_event_code"):
            body["test_event_code"] = self.settings["test_event_code"]
        return Request("POST", f"{self.base_url}/{version}/{self.settings['pixel_id']}/events",
                       json.dumps(body).encode(), {"Content-Type": "application/json"})

    def received(self, response, sent):
        received = response.get("events_received") if isinstance(response, dict) else None
        return received if isinstance(received, int) else sent

    def refuses_credentials(self, error):
        return error.get("code") in AUTH_CODES
