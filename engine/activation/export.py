"""Audience export to CSV or Parquet: chosen columns, optional hashed identifiers, consent
and suppression enforced, and CSV cells safe against spreadsheet formula injection.

OWASP's advice for CSV injection: a cell that begins with =, +, -, @, tab or carriage
return (we add line feed) is prefixed with a single quote so spreadsheet programs treat it
as text; the CSV writer quotes cells holding separators or quotes.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from engine.access.csv_safe import FORMULA_START  # one definition of a risky first character
from engine.access import PermissionDenied, User, audit, can, require
from engine.activation import normalise
from engine.activation.sync import _as_members, _drop_scratch, _source_sql
from engine.phones import workspace_region

COLUMNS = ("profile_id", "email", "phone", "first_name", "last_name", "address_line1", "address_line2",
           "city", "state", "postcode", "country", "date_of_birth", "customer_id", "user_id")
PLAIN_PII = {"email", "phone", "first_name", "last_name", "address_line1", "address_line2", "postcode",
             "date_of_birth"}
DEFAULT_COLUMNS = ("profile_id", "email", "phone", "first_name", "last_name", "country")

# Hashed formats: which columns get a hashed twin, and by whose rules.
HASH_FORMATS = {
    "meta": {"email": "EMAIL", "phone": "PHONE", "first_name": "FN", "last_name": "LN", "city": "CT",
             "state": "ST", "postcode": "ZIP", "country": "COUNTRY"},
    "google": {"email": "emailAddress", "phone": "phoneNumber", "first_name": "givenName",
               "last_name": "familyName", "country": "regionCode", "postcode": "postalCode"},
    "sha256": {"email": "email", "phone": "phone"},
}


def neutralise_sql(col: str) -> str:
    return f"(CASE WHEN regexp_matches({col}, '{FORMULA_START}') THEN '''' || {col} ELSE {col} END)"


def export_audience(workspace, user: User, out_path: str | Path, members, *, columns=None,
                    hash_format: str | None = None, file_format: str | None = None,
                    enforce_consent: bool = True, label: str = "",
                    progress: Callable[[float, str], None] | None = None) -> dict:
    """Write the members to out_path; returns {rows, held_back, held_back_reasons, path, columns}."""
    require(user, "export")
    progress = progress or (lambda f, m="": None)
    path = Path(out_path)
    fmt = (file_format or path.suffix.lstrip(".") or "csv").lower()
    if fmt not in ("csv", "parquet"):
        raise ValueError("Exports are CSV or Parquet (.csv / .parquet).")
    cols = list(columns or DEFAULT_COLUMNS)
    unknown = [c for c in cols if c not in COLUMNS]
    if unknown:
        raise ValueError(f"Unknown column(s) {', '.join(unknown)}; choose from {', '.join(COLUMNS)}.")
    if hash_format and hash_format not in HASH_FORMATS:
        raise ValueError(f"Hashed formats are {', '.join(HASH_FORMATS)}.")
    hashed_cols = HASH_FORMATS.get(hash_format or "", {})
    plain = [c for c in cols if c in PLAIN_PII and c not in hashed_cols]
    if plain and not can(user, "view_pii"):
        raise PermissionDenied(f"Your role may not export personal data in plain text ({', '.join(plain)}); "
                              "choose a hashed format or other columns.")
    select = []
    key_sql = _hash_exprs(hash_format) if hash_format else {}
    for c in cols:
        if c in hashed_cols:
            name = f"{c}_sha256" if key_sql[c][1] else c
            select.append(f"{key_sql[c][0]} AS \"{name}\"")
        elif c == "date_of_birth":
            select.append("CAST(p.date_of_birth AS VARCHAR) AS date_of_birth")
        else:
            src = {"profile_id": "s.profile_id", "email": "s.email", "phone": "s.phone"}.get(c, f"p.{c}")
            select.append(f"{neutralise_sql(src) if fmt == 'csv' else src} AS \"{c}\"")
    purposes = ("advertising",) if enforce_consent else ()
    progress(0.1, "Selecting members")
    df = _as_members(members)
    with workspace.connect() as con:
        con.register("_act_members", df)
        try:
            con.execute("CREATE OR REPLACE TEMP TABLE _act_src AS " + _source_sql(purposes, workspace_region(con)))
            reasons = dict(con.execute(
                "SELECT reason, count(*) FROM _act_src WHERE reason IS NOT NULL GROUP BY reason").fetchall())
            table = con.sql(  # no user values in this text: columns come from the allow-list above
                f"SELECT {', '.join(select)} FROM _act_src s LEFT JOIN profiles p USING (profile_id) "
                "WHERE s.reason IS NULL ORDER BY s.profile_id").to_arrow_table()
        finally:
            _drop_scratch(con)
    if hasattr(table, "read_all"):
        table = table.read_all()
    progress(0.6, f"Writing {table.num_rows:,} rows")
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        pacsv.write_csv(table, str(path))
    else:
        pq.write_table(table, str(path))
    out = {"path": str(path), "rows": table.num_rows, "columns": table.column_names,
           "held_back": sum(reasons.values()), "held_back_reasons": reasons, "format": fmt,
           "hash_format": hash_format}
    with workspace.transaction() as con:
        audit(con, user, "audience.export", label or str(path.name),
              {k: out[k] for k in ("rows", "columns", "held_back", "held_back_reasons", "format", "hash_format")})
    progress(1.0, "Done")
    return out


def _hash_exprs(hash_format: str) -> dict[str, tuple[str, bool]]:
    """column -> (SQL, hashed?) for the chosen format, over s.* (identifiers) and p.* (profile)."""
    c = {"email": "s.email", "phone": "s.phone", "first_name": "p.first_name", "last_name": "p.last_name",
         "city": "p.city", "state": "p.state", "postcode": "p.postcode", "country": "p.country",
         "date_of_birth": "p.date_of_birth", "madid": "s.madid", "profile_id": "s.profile_id"}
    if hash_format == "meta":
        k = normalise.meta_keys(c)
        return {col: (k[key], True) for col, key in HASH_FORMATS["meta"].items()}
    if hash_format == "google":
        k = normalise.google_keys(c)
        return {col: (k[key], key not in ("regionCode", "postalCode"))
                for col, key in HASH_FORMATS["google"].items()}
    p = normalise.plain_contact(c)
    return {"email": (normalise.hashed(c["email"], p["email"]), True),
            "phone": (normalise.hashed(c["phone"], p["phone"]), True)}


def export_bytes(workspace, user: User, members, **kwargs) -> tuple[bytes, dict]:
    """The export as bytes (for a download button), through a temporary file."""
    import tempfile
    fmt = kwargs.get("file_format") or "csv"
    with tempfile.TemporaryDirectory() as tmp:
        out = export_audience(workspace, user, Path(tmp) / f"audience.{fmt}", members, **kwargs)
        data = Path(out["path"]).read_bytes()
    return data, out
