"""The one interface every forwarding destination implements (a conversions API of an ad platform)."""
from __future__ import annotations

import json

from engine.activation.destinations.base import Platform
from engine.activation.http import AuthError, DeliveryError, Request


class ConversionDestination(Platform):
    """A platform conversions are forwarded to: the payload of one event (SQL), the request of a
    batch, how old an event may be, and which refusals mean the credentials.

    Subclasses set the class attributes (`batch_size` is the platform's maximum events per
    request) and implement `payload_sql` and `request`.
    """

    secret_names = ("access_token",)
    platform_name = ""                          # how messages name the platform: "Meta"
    events_key = ""                             # the request body's key that lists the events
    # The oldest event the platform accepts, in days before the request; some action sources
    # (e.g. Meta's physical_store) are accepted for longer.
    age_limit_days: int = 0
    age_limit_days_by_source: dict[str, int] = {}

    @classmethod
    def spec(cls) -> dict:
        """The kind as configuration sees it (engine.forward.config.KINDS)."""
        return {"label": cls.label, "required": cls.required_settings, "optional": tuple(cls.optional_settings),
                "base_url": cls.default_base_url, "batch_limit": cls.batch_size}

    @classmethod
    def payload_sql(cls, default_country: str | None = None) -> str:
        """SQL of one event's payload as JSON, over a conversion `c` (engine.forward.payloads)
        and its mapping `m` (platform_event)."""
        raise NotImplementedError

    def request(self, payloads: list[dict]) -> Request:
        """The request sending these payloads (the token is `self.secret('access_token')`)."""
        raise NotImplementedError

    def received(self, response, sent: int) -> int:
        """How many events the platform says it received of the `sent` in a request it accepted."""
        return sent

    def rejected_events(self, body: bytes, n: int) -> dict[int, str]:
        """{index of a bad event: why} when a refused request names them; {} when the platform
        refuses the whole request (delivery then splits the batch to find them)."""
        return {}

    def refuses_credentials(self, error: dict) -> bool:
        """The platform's error object (`error` of the body) says the token is bad, whatever the HTTP status."""
        return False

    def is_auth_error(self, exc: DeliveryError) -> bool:
        return isinstance(exc, AuthError) or self.refuses_credentials(error_object(getattr(exc, "body", b"")))


def error_object(body: bytes) -> dict:
    """The `error` object of a JSON error body ({} when there is none)."""
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return {}
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, dict) else {}
