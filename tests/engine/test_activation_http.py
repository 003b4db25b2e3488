"""The retrying HTTP client: backoff with jitter, Retry-After, no retry on auth/validation."""
import pytest

from engine.activation.http import (AuthError, HttpClient, RejectedError, UnavailableError,
                                    retry_after_seconds)
from tests.engine.activation_fakes import FakePlatform
from engine.activation.destinations.base import plain_error
from engine.activation.http import Request


def test_retry_after_forms():
    assert retry_after_seconds("7") == 7
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470) == 10
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_backoff_is_jittered_exponential_and_capped():
    c = HttpClient(base_delay=1, max_delay=5)
    waits = [c.backoff(a) for a in range(6) for _ in range(50)]
    assert all(0 <= w <= 5 for w in waits) and len(set(waits)) > 100
    assert max(c.backoff(0) for _ in range(200)) <= 1


def test_retry_after_is_honoured_and_statuses_sorted():
    slept = []
    with FakePlatform("webhook") as fake:
        client = HttpClient(base_delay=0.001, max_attempts=3, sleep=slept.append)
        req = Request("POST", fake.url, b"{}", {})
        fake.fail(429, retry_after="3")
        fake.fail(502)
        with pytest.raises(AuthError, match="bad signature"):   # then the unsigned body is refused: no retry
            client.send(Request("POST", fake.url, b"{}", {"webhook-id": "x"}), plain_error)
        assert len(fake.requests) == 3
        assert slept[0] >= 3 and slept[1] < 1
        fake.fail(400)
        with pytest.raises(RejectedError, match="bad request"):
            client.send(req, plain_error)
        fake.fail(403)
        with pytest.raises(AuthError):
            client.send(req, plain_error)
        fake.fail(500, times=3)
        with pytest.raises(UnavailableError, match="after 3 attempts"):
            client.send(req, plain_error)
    with pytest.raises(UnavailableError, match="could not reach"):
        HttpClient(max_attempts=2, sleep=lambda s: None).send(Request("POST", fake.url, b"{}"), plain_error)
