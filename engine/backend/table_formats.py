"""The formats a lakehouse table mapping can name (`cdp engine set --table NAME PATH FORMAT`)."""
from __future__ import annotations

FORMATS = ("parquet", "delta", "iceberg", "table")


def checked_format(fmt: str | None) -> str:
    """fmt (parquet when not given), or a ValueError naming the formats there are."""
    fmt = fmt or "parquet"
    if fmt not in FORMATS:
        raise ValueError(f"Table format {fmt!r} is not one of {', '.join(FORMATS)}.")
    return fmt
