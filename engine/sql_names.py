"""Names in SQL text: the one way the product quotes a table or column name it writes into SQL."""
from __future__ import annotations


def quote_name(name) -> str:
    """name as a double-quoted SQL identifier (embedded quotes doubled), for DuckDB and Spark alike
    after the dialect's transpile. Quote only names the code chose or checked against an allow-list."""
    return '"' + str(name).replace('"', '""') + '"'
