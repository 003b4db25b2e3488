"""The date shapes the product reads, as strptime codes (the same in Python and DuckDB).

Uploads (engine/ingest/validate.py) and dates of birth (engine/identity/normalise.py) build
their format lists from these, so a new shape is added once and both read it.
"""
from __future__ import annotations

SEPARATORS = "/-."
DAY_FIRST = tuple(f"%d{sep}%m{sep}%Y" for sep in SEPARATORS)          # 31/12/1990, 31-12-1990, 31.12.1990
YEAR_FIRST = ("%Y%m%d", "%Y/%m/%d")                                    # 19901231, 1990/12/31
NAMED_MONTH = ("%d %b %Y", "%d %B %Y", "%b %d, %Y", "%B %d, %Y", "%b %d %Y", "%B %d %Y")


def month_first(fmt: str) -> str:
    """The same shape with day and month swapped (US order): %d/%m/%Y → %m/%d/%Y."""
    return fmt.replace("%d", "%_").replace("%m", "%d").replace("%_", "%m")


def with_times(fmt: str) -> tuple[str, ...]:
    """A date shape and the same followed by hours:minutes and hours:minutes:seconds."""
    return (fmt, f"{fmt} %H:%M", f"{fmt} %H:%M:%S")
