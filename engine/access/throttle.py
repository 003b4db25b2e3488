"""Password-guessing defence: failed logins counted per user name and per client address.

Counts live in the workspace (table `login_failures`), so they hold across browser sessions,
app processes and restarts. After a few free failures each further one doubles the wait
before the next attempt is even checked, and past a limit the name or address is locked out
for a while. A success clears the count of that user name, never of the address (one valid
account must not reset an address that is guessing at others). Counts are forgotten a day
after the last failure. Every function takes `now` (Unix seconds) so tests inject the clock.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Policy:
    free: int              # failures allowed before any wait
    base_delay: float      # seconds to wait after the first failure past `free`; doubles each time
    max_delay: float       # the doubling stops here
    lockout_after: int     # from this many failures on, the subject is locked out ...
    lockout_seconds: float  # ... for this long after each failure
    forget_after: float    # a count is dropped this long after its last failure


POLICIES = {
    "user": Policy(free=3, base_delay=2.0, max_delay=300.0, lockout_after=10, lockout_seconds=900.0,
                   forget_after=86400.0),
    "address": Policy(free=10, base_delay=2.0, max_delay=300.0, lockout_after=30, lockout_seconds=900.0,
                      forget_after=86400.0),
}
MAX_SUBJECT = 100


@dataclass(frozen=True)
class Block:
    scope: str             # which count blocks: 'user' or 'address'
    failures: int
    retry_after: float     # seconds until the next attempt is checked
    locked_out: bool       # past the lockout limit rather than in the backoff


def delay_after(policy: Policy, failures: int) -> float:
    """Seconds an attempt must wait after `failures` failures in a row."""
    if failures >= policy.lockout_after:
        return policy.lockout_seconds
    if failures <= policy.free:
        return 0.0
    return min(policy.max_delay, policy.base_delay * 2 ** (failures - policy.free - 1))


def subject_key(value: str | None) -> str:
    return (value or "").strip().lower()[:MAX_SUBJECT]


def _subjects(username: str | None, address: str | None) -> list[tuple[str, str]]:
    return [("user", subject_key(username)), ("address", subject_key(address) or "unknown")]


def check(con, username: str | None, address: str | None, now: float) -> Block | None:
    """The longest wait that applies to this attempt, or None when it may be checked now."""
    worst = None
    for scope, subject in _subjects(username, address):
        row = con.execute("SELECT failures, last_failure_at, blocked_until FROM login_failures "
                          "WHERE scope = ? AND subject = ?", [scope, subject]).fetchone()
        if row is None:
            continue
        failures, last, blocked_until = row
        if now - last > POLICIES[scope].forget_after or blocked_until <= now:
            continue
        block = Block(scope, failures, blocked_until - now, failures >= POLICIES[scope].lockout_after)
        if worst is None or block.retry_after > worst.retry_after:
            worst = block
    return worst


def record_failure(con, username: str | None, address: str | None, now: float) -> dict[str, int]:
    """Count one failed attempt for the name and the address; returns the new counts."""
    counts = {}
    for scope, subject in _subjects(username, address):
        policy = POLICIES[scope]
        row = con.execute("SELECT failures, last_failure_at FROM login_failures "
                          "WHERE scope = ? AND subject = ?", [scope, subject]).fetchone()
        failures = 1 if row is None or now - row[1] > policy.forget_after else row[0] + 1
        con.execute(
            "INSERT INTO login_failures VALUES (?, ?, ?, ?, ?) ON CONFLICT (scope, subject) DO UPDATE "
            "SET failures = excluded.failures, last_failure_at = excluded.last_failure_at, "
            "blocked_until = excluded.blocked_until",
            [scope, subject, failures, now, now + delay_after(policy, failures)])
        counts[scope] = failures
    return counts


def clear_user(con, username: str) -> None:
    con.execute("DELETE FROM login_failures WHERE scope = 'user' AND subject = ?", [subject_key(username)])


def blocked_subjects(con, now: float) -> list[dict]:
    """Names and addresses currently waiting or locked out (for the admin screen)."""
    rows = con.execute("SELECT scope, subject, failures, blocked_until FROM login_failures "
                       "WHERE blocked_until > ? ORDER BY blocked_until DESC", [now]).fetchall()
    return [{"scope": s, "subject": subj, "failures": f, "seconds_left": round(b - now)} for s, subj, f, b in rows]


def unblock(con, scope: str, subject: str) -> None:
    con.execute("DELETE FROM login_failures WHERE scope = ? AND subject = ?", [scope, subject_key(subject)])
