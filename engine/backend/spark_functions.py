"""DuckDB built-ins Spark lacks, registered on each Spark session under DuckDB's names, so the
dialect's Spark SQL calls them as written (tests/spark/test_rewrites_on_spark.py checks each
against DuckDB).

* strip_accents(text): DuckDB's (utf8proc's mark stripping): decompose, drop the combining
  marks, compose again ('Zoë' → 'Zoe'; 'Ø', 'ß' and 'Ł' have no marks to drop and stay).
"""
from __future__ import annotations

import unicodedata

import pandas as pd

MARKS = ("Mn", "Mc", "Me")


def strip_accents_text(value: str | None) -> str | None:
    if value is None:
        return None
    decomposed = unicodedata.normalize("NFD", value)
    return unicodedata.normalize("NFC", "".join(ch for ch in decomposed if unicodedata.category(ch) not in MARKS))


def strip_accents(values: pd.Series) -> pd.Series:
    return values.map(strip_accents_text, na_action="ignore")


def register_functions(spark) -> None:
    """Make this module's functions callable from the session's SQL (vectorised pandas UDFs)."""
    from pyspark.sql.functions import pandas_udf

    spark.udf.register("strip_accents", pandas_udf(strip_accents, "string"))
