"""What every journey query shares: step names, step conditions with property filters,
the time range, and the breakdown dimensions (all as SQL with bound parameters)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

# The name of an event as a journey step: track events by their event name, pages and screens
# by "Page: <name>" (or the URL path when unnamed), other calls by their type.
STEP_SQL = """CASE type
    WHEN 'track' THEN event
    WHEN 'page' THEN 'Page: ' || COALESCE(name, NULLIF(regexp_extract(url, '^[a-zA-Z]+://[^/]+(/[^?#]*)', 1), ''), '/')
    WHEN 'screen' THEN 'Screen: ' || COALESCE(name, '?')
    ELSE initcap_type END"""
STEP_SQL = STEP_SQL.replace("initcap_type", "upper(left(type, 1)) || substr(type, 2)")

# Channel of a touch: UTM campaign (context.campaign or the URL's utm_ parameters), else the
# referrer's host classified as search / social / referral; internal referrers are not touches.
# These read the columns url, referrer, c_source, c_medium, c_campaign that prepare.py extracts
# from context.
UTM_SOURCE_SQL = "lower(NULLIF(COALESCE(c_source, regexp_extract(url, '[?&]utm_source=([^&#]+)', 1)), ''))"
UTM_MEDIUM_SQL = "lower(NULLIF(COALESCE(c_medium, regexp_extract(url, '[?&]utm_medium=([^&#]+)', 1)), ''))"
# (a URL's campaign with '+' and %20 read as spaces; no full URL decoding: a bad escape must not stop the build)
UTM_CAMPAIGN_SQL = ("NULLIF(COALESCE(c_campaign, regexp_replace(regexp_extract(url, '[?&]utm_campaign=([^&#]+)', 1), "
                    "'\\+|%20', ' ', 'g')), '')")
REFERRER_HOST_SQL = "lower(NULLIF(regexp_extract(referrer, '^[a-zA-Z]+://(?:www\\.)?([^/:?#]+)', 1), ''))"
PAGE_HOST_SQL = "lower(NULLIF(regexp_extract(url, '^[a-zA-Z]+://(?:www\\.)?([^/:?#]+)', 1), ''))"
SEARCH_HOSTS = ("google.", "bing.com", "duckduckgo.com", "yahoo.", "ecosia.org", "baidu.com", "yandex.")
SOCIAL_HOSTS = ("facebook.com", "instagram.com", "t.co", "twitter.com", "x.com", "linkedin.com",
                "tiktok.com", "pinterest.", "reddit.com", "youtube.com", "lnkd.in", "m.facebook.com")

OPS = {"=": "=", "!=": "<>", ">": ">", ">=": ">=", "<": "<", "<=": "<=", "contains": "contains",
       "in": "in", "is set": "is set", "is not set": "is not set"}
_PROPERTY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class JourneyError(ValueError):
    """A journey question that cannot be answered as asked, with the reason to show."""


@dataclass(frozen=True)
class PropertyFilter:
    property: str
    op: str = "="
    value: object = None


@dataclass(frozen=True)
class Step:
    """One funnel step or path anchor: an event (step name) and optional property filters."""

    event: str
    filters: tuple[PropertyFilter, ...] = field(default_factory=tuple)

    @classmethod
    def of(cls, spec) -> "Step":
        if isinstance(spec, Step):
            return spec
        if isinstance(spec, str):
            return cls(spec)
        filters = tuple(f if isinstance(f, PropertyFilter) else PropertyFilter(**f)
                        for f in spec.get("filters") or ())
        return cls(spec["event"], filters)

    @property
    def label(self) -> str:
        if not self.filters:
            return self.event
        conds = ", ".join(f"{f.property} {f.op} {f.value}" if f.value is not None else f"{f.property} {f.op}"
                          for f in self.filters)
        return f"{self.event} ({conds})"


def step_condition(step: Step, params: list) -> str:
    """SQL condition matching events of this step; appends the bound values to params."""
    if not step.event:
        raise JourneyError("Every step needs an event.")
    parts = ["step = ?"]
    params.append(step.event)
    for f in step.filters:
        if not _PROPERTY.match(f.property or ""):
            raise JourneyError(f"{f.property!r} is not a property name (letters, digits, _ and dots).")
        if f.op not in OPS:
            raise JourneyError(f"Unknown operator {f.op!r}; use one of {', '.join(OPS)}.")
        path = "$." + f.property
        value_sql = "json_extract_string(properties, ?)"
        if f.op == "is set":
            parts.append(f"{value_sql} IS NOT NULL")
            params.append(path)
        elif f.op == "is not set":
            parts.append(f"{value_sql} IS NULL")
            params.append(path)
        elif f.op == "contains":
            parts.append(f"contains(lower({value_sql}), lower(?))")
            params.extend([path, str(f.value)])
        elif f.op == "in":
            values = f.value if isinstance(f.value, (list, tuple)) else [v.strip() for v in str(f.value).split(",")]
            parts.append(f"list_contains(?, {value_sql})")
            params.extend([[str(v) for v in values], path])
        elif f.op in (">", ">=", "<", "<="):
            try:
                number = float(f.value)
            except (TypeError, ValueError):
                raise JourneyError(f"{f.property} {f.op} needs a number, not {f.value!r}.") from None
            parts.append(f"TRY_CAST({value_sql} AS DOUBLE) {OPS[f.op]} ?")
            params.extend([path, number])
        else:
            parts.append(f"{value_sql} {OPS[f.op]} ?")
            params.extend([path, str(f.value)])
    return "(" + " AND ".join(parts) + ")"


def time_range(since: date | datetime | None, until: date | datetime | None, params: list,
               column: str = "timestamp") -> str:
    """SQL condition on the event time (until is inclusive of its whole day for dates)."""
    parts = []
    if since is not None:
        parts.append(f"{column} >= CAST(? AS TIMESTAMPTZ)")
        params.append(str(since))
    if until is not None:
        if isinstance(until, date) and not isinstance(until, datetime):
            parts.append(f"{column} < CAST(? AS TIMESTAMPTZ) + INTERVAL 1 DAY")
        else:
            parts.append(f"{column} <= CAST(? AS TIMESTAMPTZ)")
        params.append(str(until))
    return " AND ".join(parts) if parts else "true"


def channel_sql() -> str:
    """SQL expression: the channel of an event as a touch, or NULL when it is not one."""
    def host_in(hosts):
        return " OR ".join(f"contains(ref_host, '{h}')" if h.endswith(".") else
                           f"(ref_host = '{h}' OR ends_with(ref_host, '.{h}'))" for h in hosts)
    return f"""CASE
        WHEN utm_source IS NOT NULL THEN utm_source || COALESCE(' / ' || NULLIF(utm_medium, ''), '')
        WHEN ref_host IS NULL OR ref_host = page_host THEN NULL
        WHEN {host_in(SEARCH_HOSTS)} THEN 'organic search / ' || ref_host
        WHEN {host_in(SOCIAL_HOSTS)} THEN 'social / ' || ref_host
        ELSE 'referral / ' || ref_host END"""


TOUCHES_SQL = "SELECT profile_id, ts, channel, utm_source, utm_medium, utm_campaign FROM journey_events WHERE channel IS NOT NULL"

# Breakdown dimensions: name -> SQL giving (profile_id, value). Checked against this allow-list.
BREAKDOWNS = {
    "country": "SELECT profile_id, country AS value FROM profiles",
    "city": "SELECT profile_id, city AS value FROM profiles",
    "state": "SELECT profile_id, state AS value FROM profiles",
    "rfm_segment": "SELECT profile_id, rfm_segment AS value FROM profile_scores",
    "first_touch_utm_source": f"SELECT profile_id, arg_min(utm_source, ts) FILTER (WHERE utm_source IS NOT NULL) AS value FROM ({TOUCHES_SQL}) GROUP BY profile_id",
    "first_touch_channel": f"SELECT profile_id, arg_min(channel, ts) AS value FROM ({TOUCHES_SQL}) GROUP BY profile_id",
}


def breakdown_sql(name: str | None) -> str | None:
    if not name:
        return None
    if name not in BREAKDOWNS:
        raise JourneyError(f"Cannot break down by {name!r}; choose from {', '.join(BREAKDOWNS)}.")
    return BREAKDOWNS[name]
