"""What the platforms report back after a push, and the match rate estimate that learns from it.

Each destination reads its own responses (`Destination.batch_report`, `finish_report`): Meta
answers every upload with `num_received`, `num_invalid_entries` and `invalid_entry_samples`;
Google's Data Manager API answers with a `requestId` whose diagnostics (`requestStatus:retrieve`:
status, error and warning counts, records and identifiers received, the upload's match rate
range) the destination fetches once the run is sent. A run's report is kept in
`activation_runs.platform_report` (migration 0077) beside the match rate estimated before it.

The estimate before a push starts from typical match rates per key (`Destination.match_rates`)
and is scaled by what past reports of the same destination showed: the reported match rate
where the platform gives one (Google), else the share of rows it accepted as valid (Meta).
With no report yet, the typical rates stand as they are.
"""
from __future__ import annotations

import json
import re

SAMPLES = 10            # invalid-entry samples kept per run
HISTORY_RUNS = 5        # past reports an estimate learns from


def merge(total: dict, part: dict) -> dict:
    """Add a batch's report to the run's: numbers summed, lists and samples joined (capped),
    anything else the latest value."""
    out = dict(total)
    for key, value in (part or {}).items():
        old = out.get(key)
        if isinstance(value, bool) or value is None:
            out[key] = value
        elif isinstance(value, (int, float)) and isinstance(old, (int, float)):
            out[key] = old + value
        elif isinstance(value, list):
            joined = (old or []) + value
            out[key] = joined if key == "request_ids" else joined[:SAMPLES]
        elif isinstance(value, dict) and isinstance(old, dict):
            out[key] = dict(list({**old, **value}.items())[:SAMPLES]) if key.endswith("samples") \
                else merge(old, value)
        else:
            out[key] = value
    return out


def range_midpoint(name: str | None) -> float | None:
    """Google's match rate range (MATCH_RATE_RANGE_20_TO_30, ..._LESS_THAN_20) as a share."""
    if not name:
        return None
    nums = [int(n) for n in re.findall(r"\d+", name)]
    if "LESS_THAN" in name and nums:
        return nums[0] / 200
    if len(nums) == 2:
        return (nums[0] + nums[1]) / 200
    return None


def observed_rate(report: dict, expected: float | None) -> float | None:
    """What a run's report says about its match rate: Google's reported range, else the
    estimate scaled by the share of rows Meta accepted as valid; None when it says nothing."""
    if report.get("match_rate") is not None:
        return float(report["match_rate"])
    received = report.get("num_received") or 0
    if received and expected:
        return expected * (1 - (report.get("num_invalid_entries") or 0) / received)
    return None


def learned_factor(con, destination: str) -> tuple[float, int]:
    """(factor, runs): how far past reports of `destination` put the real rate from the estimate
    made before those runs (1.0 and 0 runs when there is no report yet)."""
    rows = con.execute(
        "SELECT CAST(platform_report AS VARCHAR), expected_match_rate FROM activation_runs "
        "WHERE destination = ? AND platform_report IS NOT NULL AND expected_match_rate > 0 "
        "ORDER BY run_id DESC LIMIT ?", [destination, HISTORY_RUNS]).fetchall()
    ratios = []
    for text, expected in rows:
        seen = observed_rate(json.loads(text or "{}"), expected)
        if seen is not None:
            ratios.append(seen / expected)
    if not ratios:
        return 1.0, 0
    return sum(ratios) / len(ratios), len(ratios)


def describe(report: dict | None) -> list[str]:
    """A report in plain lines, for the screen and the CLI."""
    if not report:
        return []
    lines = []
    if "num_received" in report:
        lines.append(f"Received {report['num_received']:,} rows, {report.get('num_invalid_entries') or 0:,} invalid.")
    for sample, why in (report.get("invalid_entry_samples") or {}).items():
        lines.append(f"Invalid: {sample} ({why})")
    if report.get("request_status"):
        lines.append("Request status: " + ", ".join(f"{k} {v}" for k, v in report["request_status"].items()))
    if report.get("record_count") is not None:
        lines.append(f"Records received: {report['record_count']:,}; identifiers: {report.get('user_identifier_count', 0):,}.")
    if report.get("match_rate_range"):
        lines.append(f"Match rate: {report['match_rate_range']}.")
    for kind in ("errors", "warnings"):
        for reason, count in (report.get(kind) or {}).items():
            lines.append(f"{kind[:-1].title()}: {reason} ({count:,} records)")
    if report.get("diagnostics_error"):
        lines.append(f"Diagnostics not available: {report['diagnostics_error']}")
    return lines
