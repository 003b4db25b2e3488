"""Which tables and views a query reads (what a Spark session must have registered)."""
from __future__ import annotations

import sqlglot
from sqlglot import exp


def relations_read(sql: str) -> list[str]:
    """Names of the tables and views `sql` reads, without its own CTE names, sorted."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    names = {t.name for t in tree.find_all(exp.Table) if t.name and t.name not in ctes}
    return sorted(names)
