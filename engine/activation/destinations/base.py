"""The one interface every destination implements, and what they share."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from engine.activation import normalise
from engine.activation.http import HttpClient, Request, Response


@dataclass(frozen=True)
class BatchContext:
    run_id: int
    op: str                 # add | remove
    batch_no: int           # 0-based, per op
    batch_count: int        # batches of this op in the run
    total_rows: int         # rows of this op in the run
    audience_key: str

    @property
    def is_last(self) -> bool:
        return self.batch_no + 1 >= self.batch_count


@dataclass(frozen=True)
class ErasureContext:
    request_id: int         # the erasure request in privacy_requests
    destination: str

    @property
    def run_id(self) -> int:
        """A run number no sync uses (Meta sessions and webhook ids are derived from it)."""
        return ERASURE_RUN_BASE + self.request_id


ERASURE_RUN_BASE = 1_000_000_000


@dataclass
class BatchResult:
    sent: int
    failed: int = 0
    response: dict | None = None


class Platform:
    """What every destination shares, whether it receives audiences (Destination) or forwarded
    conversions (engine.forward.destinations): settings checked against the required ones, an API
    root, secrets, a batch size within the platform's maximum, errors in plain words."""

    kind = ""
    label = ""
    batch_size = 1000                           # the platform's documented maximum per request
    default_base_url = ""
    secret_names: tuple[str, ...] = ()          # read from secrets.toml / environment
    required_settings: tuple[str, ...] = ()
    optional_settings: dict[str, str] = {}      # name -> what it means

    def __init__(self, name: str, settings: dict | None = None, secrets: dict | None = None,
                 folder: Path | None = None):
        self.name = name
        self.settings = dict(settings or {})
        self.secrets = dict(secrets or {})
        self.folder = Path(folder) if folder else None   # the workspace folder (the sandbox writes there)
        missing = [k for k in self.required_settings if not str(self.settings.get(k) or "").strip()]
        if missing:
            raise ValueError(f"Destination {name!r} ({self.label}) needs the setting(s): "
                             f"{', '.join(missing)}.")
        size = self.settings.get("batch_size")
        if size:
            self.batch_size = max(1, min(int(size), type(self).batch_size))

    @property
    def base_url(self) -> str:
        return str(self.settings.get("base_url") or self.default_base_url).rstrip("/")

    def secret(self, key: str) -> str:
        value = self.secrets.get(key)
        if not value:
            raise ValueError(
                f"No {key} for destination {self.name!r}: put it in .streamlit/secrets.toml under "
                f"[destinations.{self.name}] or set CDP_DEST_{env_name(self.name)}_{key.upper()}.")
        return value

    def describe_error(self, status: int, body: bytes) -> str:
        return plain_error(status, body)


class Destination(Platform):
    """A platform that receives audiences: how members look (SQL), how a batch becomes requests.

    Subclasses set the class attributes and implement `member_sql` and `requests`;
    destinations that need several calls per batch (HubSpot) override `send`.
    """

    consent_purposes: tuple[str, ...] = ("advertising",)
    hashed = True                               # identifiers leave hashed
    max_body_bytes: int | None = None           # a request's largest body, when the platform sets one
    match_rates = {"email": 0.55, "phone": 0.40, "address": 0.25, "ad_id": 0.60}

    @property
    def default_country(self) -> str | None:
        return self.settings.get("default_country") or None

    # -- members ------------------------------------------------------------
    def keys(self, c: dict[str, str]) -> dict[str, str]:
        """Key name -> SQL of its normalised (hashed where wanted) value, over canonical columns `c`.
        Evaluated once per member into its own column."""
        raise NotImplementedError

    def member_sql(self, k: dict[str, str]) -> str:
        """SQL giving one member's JSON as sent (NULL when it has no usable key), over the key
        columns `k` (key name -> column reference)."""
        raise NotImplementedError

    # -- sending ------------------------------------------------------------
    def requests(self, members: list[str], ctx: BatchContext) -> list[Request]:
        raise NotImplementedError

    def send(self, client: HttpClient, members: list[str], ctx: BatchContext) -> BatchResult:
        last: Response | None = None
        for req in self.requests(members, ctx):
            last = client.send(req, self.describe_error)
        return self.result(last, members, ctx)

    def result(self, resp: Response | None, members: list[str], ctx: BatchContext) -> BatchResult:
        return BatchResult(sent=len(members), response=resp.json() if resp is not None else None)

    def sample_body(self, members: list[str], ctx: BatchContext) -> str:
        """The first request of a batch, as text (for the dry run)."""
        reqs = self.requests(members, ctx)
        if not reqs:
            return ""
        r = reqs[0]
        body = r.body.decode() if r.body else ""
        try:
            body = json.dumps(json.loads(body), indent=2)
        except ValueError:
            pass
        return f"{r.method} {r.url}\n{body}"

    # -- what the platform reported (engine.activation.feedback) ---------------
    def batch_report(self, response: dict | None) -> dict:
        """What one batch's response reports, as a dict runs add up (feedback.merge); {} when
        the platform reports nothing beyond success."""
        return {}

    def finish_report(self, client: HttpClient, report: dict) -> dict:
        """The run's report once every batch is sent (a platform with request diagnostics
        fetches them here)."""
        return report

    # -- erasure ------------------------------------------------------------
    # What an erasure asks of this destination, in words (shown in the erasure report).
    erasure_action = "removed from the audience"

    def erasure_members(self, held: list[str], current: list[str], emails: list[str]) -> list[str]:
        """What to ask this destination to delete for an erased person: the members as the
        destination holds them (`held`) and as they would be sent now (`current`), JSON fragments
        as `member_sql` makes them. `emails` (normalised) is there for tools keyed by email."""
        return sorted(set(held) | set(current))

    def erase(self, client: HttpClient, members: list[str], ctx: ErasureContext) -> BatchResult:
        """Delete an erased person here, now. By default: remove them from the audience, in
        batches, with the same calls a sync's removal makes; a kind that can delete the person
        outright (a CRM or email tool) overrides this."""
        batches = [members[i:i + self.batch_size] for i in range(0, len(members), self.batch_size)]
        sent = failed = 0
        responses = []
        for no, chunk in enumerate(batches):
            result = self.send(client, chunk, BatchContext(ctx.run_id, "remove", no, len(batches),
                                                           len(members), f"erasure:{ctx.request_id}"))
            sent, failed = sent + result.sent, failed + result.failed
            responses.append(result.response)
        return BatchResult(sent=sent, failed=failed, response={"batches": len(batches), "responses": responses[:3]})


class EmailListDestination(Destination):
    """A marketing tool's list, keyed by plain (not hashed) email: each member is its email as JSON.

    Who may be sent: people who agreed to email marketing (purpose `email`). Advertising
    consent is about ad platforms and says nothing about a marketing email tool."""

    hashed = False
    consent_purposes = ("email",)
    match_rates = {"email": 0.98, "phone": 0.0, "address": 0.0, "ad_id": 0.0}

    def keys(self, c):
        return {"email": normalise.plain_contact(c)["email"]}

    def member_sql(self, k):
        return f"(CASE WHEN {k['email']} LIKE '%_@_%' THEN to_json({k['email']})::VARCHAR END)"

    def erasure_members(self, held, current, emails):
        """Every email the person was known by: the tool may hold any of them."""
        return sorted(set(held) | set(current) | {json.dumps(e) for e in emails if "@" in e})

    def erase_one(self, email: str) -> Request:
        """The request deleting the profile of one email (Klaviyo, HubSpot implement it)."""
        raise NotImplementedError

    def erase(self, client: HttpClient, members: list[str], ctx: ErasureContext) -> BatchResult:
        """Delete each email's profile with the tool's documented privacy deletion."""
        last = None
        for member in members:
            last = client.send(self.erase_one(json.loads(member)), self.describe_error)
        return BatchResult(sent=len(members), response={"status": last.status if last else None})


def env_name(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name).upper()


def json_list(members: list[str]) -> str:
    """Members are JSON fragments already; joining them avoids re-parsing 10,000 rows."""
    return "[" + ",".join(members) + "]"


def plain_error(status: int, body: bytes) -> str:
    """A readable message from the usual error shapes (Graph API, Google, JSON:API, HubSpot)."""
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        data = {}
    msg = None
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict):
            msg = err.get("error_user_msg") or err.get("message")
            if err.get("status"):
                msg = f"{msg} ({err['status']})"
        elif isinstance(err, str):
            msg = err
        errors = data.get("errors")
        if not msg and isinstance(errors, list) and errors and isinstance(errors[0], dict):
            msg = errors[0].get("detail") or errors[0].get("title")
        msg = msg or data.get("message")
    label = {400: "bad request", 401: "not authenticated", 403: "not allowed", 404: "not found",
             413: "request too large", 422: "invalid data", 429: "rate limited",
             500: "server error", 502: "bad gateway", 503: "unavailable",
             504: "gateway timeout"}.get(status, "error")
    return f"HTTP {status} {label}" + (f": {str(msg)[:300]}" if msg else "")
