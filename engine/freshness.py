"""How a read treats a derived table that is out of date (engine/derived.py lists them).

`REBUILD` (the default; what the CLI uses, since scripts want exact answers) brings the table up
to date before answering. `AS_BUILT` (what screens pass) reads it as its last build left it: a
consistent state, possibly a little behind, while the screen starts the refresh as a background
job and says so (ui/freshness.py). The segment event index needs no policy: while it is stale,
counts read the events view instead (same answers, slower).
"""
from __future__ import annotations

REBUILD = "rebuild"
AS_BUILT = "as_built"
POLICIES = (REBUILD, AS_BUILT)


def rebuilds(freshness: str) -> bool:
    """True when a read under this policy brings the table up to date first."""
    if freshness not in POLICIES:
        raise ValueError(f"Unknown freshness policy {freshness!r}; use one of {', '.join(POLICIES)}.")
    return freshness == REBUILD
