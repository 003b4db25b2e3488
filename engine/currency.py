"""Currencies: the workspace's reporting currency and the rates into it, so that amounts in
several currencies are never added up raw.

Every value figure reads `net_amount` of the revenue views (engine/revenue.py), which is in the
reporting currency (setting `revenue.reporting_currency`): an order in another currency is
converted with the latest rate in force on its day (`currency_rates`, loaded from a file with
`load_rates`), and an order in a currency with no rate is left out of revenue and listed in the
view `unconverted_orders` (ingest warns when it loads such orders; `currency_status` counts
them for screens). Orders without a currency (a till export) are in the reporting currency.
The rule itself is SQL in the workspace (migration 0020_currency_rates.sql).

The first orders loaded with a currency set the reporting currency when none is set (their
most common currency); `set_reporting_currency` changes it.
"""
from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

from engine.access import User, audit, require
from engine.revenue import UNCONVERTED_ORDERS

SETTING_KEY = "revenue.reporting_currency"
_CODE = re.compile(r"^[A-Z]{3}$")
# Column names a rates file may use (lower case, spaces and '_' ignored).
_COLUMNS = {"currency": ("currency", "code", "currencycode", "ccy", "from", "fromcurrency", "iso"),
            "rate": ("rate", "fxrate", "exchangerate", "torate", "value"),
            "valid_from": ("date", "validfrom", "day", "asof", "from_date", "fromdate", "effectivedate"),
            "reporting_currency": ("to", "tocurrency", "reportingcurrency", "base", "basecurrency")}


class CurrencyError(ValueError):
    """A currency or rates file that cannot be used, with the reason to show."""


def currency_code(value: str) -> str:
    """An ISO 4217 code, upper case, or CurrencyError."""
    code = str(value or "").strip().upper()
    if not _CODE.match(code):
        raise CurrencyError(f"{value!r} is not a currency code (three letters, e.g. GBP, EUR, USD).")
    return code


def reporting_currency(con) -> str | None:
    """The workspace's reporting currency (con: a connection or a Workspace), or None."""
    if hasattr(con, "scalar"):
        return con.scalar("SELECT reporting_currency()")
    return con.execute("SELECT reporting_currency()").fetchone()[0]


def _save(con, code: str, by: str) -> None:
    con.execute("INSERT OR REPLACE INTO settings (key, value, updated_at, updated_by) VALUES (?, ?, now(), ?)",
                [SETTING_KEY, json.dumps(code), by])


def set_reporting_currency(workspace, user: User, code: str) -> str:
    """Make `code` the currency every value figure is in. Audited."""
    require(user, "ingest")
    code = currency_code(code)
    with workspace.transaction() as con:
        _save(con, code, user.username)
        audit(con, user, "currency.reporting", SETTING_KEY, {"currency": code})
    return code


def _column(columns: list[str], field: str) -> str | None:
    for column in columns:
        if re.sub(r"[\s_\-()]+", "", column.lower()) in {w.replace("_", "") for w in _COLUMNS[field]}:
            return column
    return None


def load_rates(workspace, user: User, path: str | Path, to: str | None = None) -> dict:
    """Load a rates file (CSV: currency, rate, optional date, optional reporting currency).

    A rate is what one unit of the row's currency is worth in the reporting currency (`to`, else
    the file's column, else the workspace's). Rows that cannot be read are reported, not loaded;
    a rate for a currency and date already loaded replaces it. Returns counts and warnings.
    """
    require(user, "ingest")
    path = Path(path)
    if not path.is_file():
        raise CurrencyError(f"No such file: {path}")
    with workspace.transaction() as con:
        columns = [r[0] for r in con.execute(
            "DESCRIBE SELECT * FROM read_csv(?, all_varchar = true, header = true)", [str(path)]).fetchall()]
        found = {f: _column(columns, f) for f in _COLUMNS}
        if not found["currency"] or not found["rate"]:
            raise CurrencyError(f"A rates file needs a currency column and a rate column; found {', '.join(columns)}.")
        default_to = currency_code(to) if to else reporting_currency(con)
        if not default_to and not found["reporting_currency"]:
            raise CurrencyError("Say which currency the rates are to (--to GBP), or set the reporting currency first.")
        # the file's columns by position (#n), so no name from the file is written into SQL
        pick = lambda f: f"#{columns.index(found[f]) + 1}" if found[f] else "NULL"  # noqa: E731
        to_sql = "?" if to else f"COALESCE(upper(trim({pick('reporting_currency')})), ?)"
        rates_in = f"_currency_rates_{uuid.uuid4().hex}"
        con.execute(f"""CREATE TEMP TABLE {rates_in} AS
            SELECT row_number() OVER () + 1 AS line,
                   upper(trim({pick('currency')})) AS currency,
                   {to_sql} AS reporting_currency,
                   TRY_CAST(trim({pick('valid_from')}) AS DATE) AS valid_from, trim({pick('valid_from')}) AS day_text,
                   TRY_CAST(replace(trim({pick('rate')}), ',', '.') AS DOUBLE) AS rate
            FROM read_csv(?, all_varchar = true, header = true)""", [default_to, str(path)])
        bad = con.execute(f"""SELECT line FROM {rates_in}
            WHERE NOT regexp_full_match(COALESCE(currency, ''), '[A-Z]{{3}}')
               OR NOT regexp_full_match(COALESCE(reporting_currency, ''), '[A-Z]{{3}}')
               OR rate IS NULL OR rate <= 0 OR isinf(rate) OR (day_text <> '' AND valid_from IS NULL)
            ORDER BY line""").fetchall()
        bad_lines = [b[0] for b in bad]
        con.execute(f"DELETE FROM {rates_in} WHERE list_contains(?, line)", [bad_lines])
        con.execute(f"""DELETE FROM currency_rates c USING {rates_in} r
            WHERE c.currency = r.currency AND c.reporting_currency = r.reporting_currency
              AND c.valid_from IS NOT DISTINCT FROM r.valid_from""")
        loaded = con.execute(f"""INSERT INTO currency_rates (currency, reporting_currency, valid_from, rate, loaded_by)
            SELECT currency, reporting_currency, valid_from, arg_max(rate, line), ? FROM {rates_in} GROUP BY ALL""",
                             [user.username]).fetchone()[0]
        con.execute(f"DROP TABLE {rates_in}")
        audit(con, user, "currency.rates", str(path.name), {"rates": loaded, "bad_lines": len(bad_lines)})
        warnings = []
        if bad_lines:
            shown = ", ".join(map(str, bad_lines[:10])) + (" ..." if len(bad_lines) > 10 else "")
            warnings.append(f"{len(bad_lines)} line(s) could not be read (a currency code, a positive rate and "
                            f"a date if given are needed) and were not loaded: line {shown}.")
        status = _status(con)
    return {"rates_loaded": int(loaded), "lines_refused": len(bad_lines), "warnings": warnings, **status}


def add_rate(workspace, user: User, currency: str, rate: float, to: str | None = None, valid_from=None) -> None:
    """Record one rate (one unit of `currency` in `to`, the reporting currency by default). Audited."""
    require(user, "ingest")
    code = currency_code(currency)
    if not (float(rate) > 0 and float(rate) != float("inf")):
        raise CurrencyError(f"A rate must be a positive number, not {rate!r}.")
    with workspace.transaction() as con:
        target = currency_code(to) if to else reporting_currency(con)
        if not target:
            raise CurrencyError("Say which currency the rate is into, or set the reporting currency first.")
        con.execute("""DELETE FROM currency_rates WHERE currency = ? AND reporting_currency = ?
                       AND valid_from IS NOT DISTINCT FROM CAST(? AS DATE)""", [code, target, valid_from])
        con.execute("INSERT INTO currency_rates (currency, reporting_currency, valid_from, rate, loaded_by) "
                    "VALUES (?, ?, CAST(? AS DATE), ?, ?)", [code, target, valid_from, float(rate), user.username])
        audit(con, user, "currency.rates", code, {"rate": float(rate), "to": target})


def _status(con) -> dict:
    code = reporting_currency(con)
    rates = con.execute("""SELECT currency, count(*), max(valid_from) FROM reporting_rates
                           GROUP BY currency ORDER BY currency""").fetchall()
    missing = con.execute(f"""SELECT upper(trim(currency)), count(*), sum(amount) FROM {UNCONVERTED_ORDERS}
                              GROUP BY 1 ORDER BY 2 DESC""").fetchall()
    return {"reporting_currency": code,
            "rates": {c: {"rates": int(n), "latest_from": str(d) if d else None} for c, n, d in rates},
            "unconverted_orders": sum(int(n) for _, n, _ in missing),
            "unconverted_by_currency": {c: {"orders": int(n), "amount": float(a or 0)} for c, n, a in missing}}


def currency_status(workspace) -> dict:
    """The reporting currency, the rates into it, and the orders left out for want of a rate."""
    with workspace.connect() as con:
        return _status(con)


def unconverted_message(status: dict) -> str | None:
    """One sentence for screens and ingest on orders left out of revenue, or None."""
    if not status["unconverted_orders"]:
        return None
    parts = ", ".join(f"{v['orders']:,} in {c}" for c, v in status["unconverted_by_currency"].items())
    return (f"{status['unconverted_orders']:,} order(s) are left out of revenue: no rate into "
            f"{status['reporting_currency']} for {parts}. Load rates with `cdp currency rates FILE`.")


def currency_warnings(con, kind: str, source: str, load_id: int) -> list[str]:
    """Ingest's hook after an orders load: set the reporting currency if none is (the orders' most
    common currency), and warn about this load's orders in a currency with no rate (they are left
    out of revenue)."""
    if kind != "orders":
        return []
    if reporting_currency(con) is None:
        code = con.execute("SELECT mode(upper(trim(currency))) FROM orders WHERE trim(currency) <> ''").fetchone()[0]
        if code and _CODE.match(code):
            _save(con, code, "ingest")
    missing = con.execute("""SELECT upper(trim(currency)), count(*) FROM orders
                             WHERE source = ? AND load_id = ? AND order_rate(currency, ordered_at) IS NULL
                             GROUP BY 1 ORDER BY 2 DESC""", [source, load_id]).fetchall()
    if not missing:
        return []
    parts = ", ".join(f"{n:,} in {c}" for c, n in missing)
    return [f"currency: {sum(n for _, n in missing):,} order(s) have no rate into the reporting currency "
            f"{reporting_currency(con)} ({parts}) and are left out of revenue until rates are loaded "
            "(`cdp currency rates FILE`)."]
