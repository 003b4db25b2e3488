"""Suggesting which canonical field each column holds, from its header and its values.

A file recognised as a known tool's export (engine/ingest/shapes.py) takes that shape's
mapping for the columns it knows. The other headers, and the names inside them without a
group prefix or a unit suffix (engine/ingest/headers.py), are compared with every field's name
and synonyms (rapidfuzz, one vectorised cdist call); values are profiled in one SQL scan (share
that look like emails, phones, dates, amounts). A mapping confirmed for a source is saved and
reused when a file of the same shape (same columns) comes again.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from rapidfuzz import fuzz, process

from engine.identifiers import EMAIL_LOOKALIKE
from engine.ingest.fields import RECORD_ID, RECORD_ID_SYNONYMS, extra_fields_for, fields_for
from engine.ingest.headers import header_variants, normalise_header
from engine.ingest.shapes import recognise
from engine.ingest.validate import trimmed
from engine.sql_names import quote_name

HEADER_THRESHOLD = 86      # header similarity (0-100) to accept a match on the name alone
VALUE_SHARE = 0.8          # share of non-empty values that must look like the type


@dataclass
class Suggestion:
    column: str
    field: str | None
    confidence: float          # 0-100
    why: str
    example: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


_PROFILE = {
    "email": "regexp_full_match({t}, '" + EMAIL_LOOKALIKE + "')",
    # (the second match counts 7 to 15 digits among the punctuation, cheaper than deleting the rest)
    "phone": "regexp_full_match({t}, '\\+?[0-9 ()./\\-]{{7,20}}') AND regexp_full_match({t}, '\\+?[ ()./\\-]*(?:[0-9][ ()./\\-]*){{7,15}}') AND NOT regexp_full_match({t}, '\\d{{4}}-\\d{{2}}-\\d{{2}}')",
    "date": "regexp_matches({t}, '^(\\d{{4}}-\\d{{1,2}}-\\d{{1,2}}|\\d{{1,2}}[/.-]\\d{{1,2}}[/.-]\\d{{2,4}}|\\d{{4}}/\\d{{1,2}}/\\d{{1,2}}|\\d{{1,2}} [A-Za-z]{{3,9}} \\d{{4}}|[A-Za-z]{{3,9}} \\d{{1,2}},? \\d{{4}})')",
    "money": "regexp_full_match({t}, '[-+(]?\\s*([A-Z]{{3}}\\s?|[$€£¥])?\\s*[0-9]{{1,3}}([.,\\x27 ]?[0-9]{{3}})*([.,][0-9]{{1,2}})?\\s*([A-Z]{{3}}|[$€£¥])?\\)?')",
}
# Which field types each value profile supports.
_PROFILE_TYPES = {"email": {"email"}, "phone": {"phone"}, "date": {"date", "timestamp"},
                  "money": {"money", "integer"}}


def profile_values(con, table: str, columns: list[str], sample: int = 5000) -> dict[str, dict]:
    """Per column: share of sampled non-empty values looking like each type, and an example."""
    if not columns:
        return {}
    parts = []
    for i, column in enumerate(columns):
        t = trimmed(quote_name(column))
        parts.append(f"count({t}) AS n{i}")
        parts.append(f"count(DISTINCT {t}) AS d{i}")
        parts.append(f"any_value({t}) AS x{i}")
        for kind, test in _PROFILE.items():
            parts.append(f"count_if({test.format(t=t)}) AS {kind}{i}")
    row = con.execute(
        f"SELECT count(*) AS rows, {', '.join(parts)} FROM (SELECT * FROM {table} LIMIT ?)",
        [int(sample)]).fetchone()
    names = ["rows"] + [p.rsplit(" AS ", 1)[1] for p in parts]
    values = dict(zip(names, row))
    out = {}
    for i, column in enumerate(columns):
        n = values[f"n{i}"] or 0
        out[column] = {
            "rows": values["rows"], "non_empty": n, "distinct": values[f"d{i}"],
            "example": values[f"x{i}"],
            **{kind: (values[f"{kind}{i}"] / n if n else 0.0) for kind in _PROFILE},
        }
    return out


def suggest_mapping(con, table: str, columns: list[str], kind: str,
                    saved: dict | None = None) -> list[Suggestion]:
    """One suggestion per column (field None: kept as a custom trait)."""
    fields = {**fields_for(kind), **extra_fields_for(kind)}
    if saved and set(saved) == set(columns):
        return [Suggestion(c, saved[c], 100.0, "saved mapping for this source") for c in columns]
    # Candidate names: each field's own name and synonyms, plus the record id pseudo-field.
    choices, owners = [], []
    for f in fields.values():
        for name in (normalise_header(f.name), *f.synonyms):
            choices.append(name)
            owners.append(f.name)
    if kind != "events":
        for name in RECORD_ID_SYNONYMS:
            choices.append(name)
            owners.append(RECORD_ID)
    variants = [(i, text, penalty) for i, c in enumerate(columns) for text, penalty in header_variants(c)]
    scores = (process.cdist([text for _, text, _ in variants], choices, scorer=fuzz.token_sort_ratio)
              if columns else [])
    profile = profile_values(con, table, columns)
    best_by_column: list[dict[str, float]] = [{} for _ in columns]
    for v, (i, _, penalty) in enumerate(variants):
        best = best_by_column[i]
        for j, owner in enumerate(owners):
            best[owner] = max(best.get(owner, 0.0), float(scores[v][j]) - penalty)

    candidates = []  # (score, column index, field, why)
    for i, column in enumerate(columns):
        best = best_by_column[i]
        prof = profile[column]
        for owner, score in best.items():
            ftype = fields[owner].type if owner in fields else "text"
            looks = max((prof[k] for k, types in _PROFILE_TYPES.items() if ftype in types), default=None)
            why = f"header '{column}' ~ {owner} ({score:.0f}%)"
            if looks is not None and prof["non_empty"]:
                if looks >= VALUE_SHARE:
                    score = min(100.0, score + 10)
                    why += f"; {looks:.0%} of values fit"
                elif score < 100:
                    score -= 25    # the name says one thing, the values another
            if owner == RECORD_ID and prof["non_empty"] and prof["distinct"] < 0.8 * prof["non_empty"]:
                score -= 40        # an id column holds (nearly) unique values
            candidates.append((score, i, owner, why))
        # Values alone: a column full of emails is an email column whatever it is called.
        for k, types in (("email", "email"), ("phone", "phone")):
            if types in fields and prof[k] >= 0.95 and prof["non_empty"]:
                candidates.append((HEADER_THRESHOLD + 1, i, types, f"{prof[k]:.0%} of values look like {k}s"))
    chosen: dict[int, Suggestion] = {}
    taken: set[str] = set()
    if saved:  # a saved mapping still decides for the columns it knows
        for i, column in enumerate(columns):
            if column in saved:
                chosen[i] = Suggestion(column, saved[column], 100.0, "saved mapping for this source")
                if saved[column]:
                    taken.add(saved[column])
    shape = recognise(columns, kind)
    if shape is not None:  # a known tool's export: its own columns mean what the tool says
        for column, field in shape.mapping_for({normalise_header(c): c for c in columns}).items():
            i = columns.index(column)
            if i in chosen or (field is not None and field in taken):
                continue
            why = (f"{shape.name} export: {field}" if field else
                   f"{shape.name} export: kept as a custom trait")
            chosen[i] = Suggestion(column, field, 100.0, why)
            if field:
                taken.add(field)
    for score, i, owner, why in sorted(candidates, key=lambda c: -c[0]):
        if score < HEADER_THRESHOLD or i in chosen or owner in taken:
            continue
        chosen[i] = Suggestion(columns[i], owner, round(score, 1), why)
        taken.add(owner)
    out = []
    for i, column in enumerate(columns):
        s = chosen.get(i) or Suggestion(column, None, 0.0, "no close field: kept as a custom trait")
        s.example = profile[column]["example"]
        out.append(s)
    return out


def as_mapping(suggestions: list[Suggestion]) -> dict[str, str | None]:
    return {s.column: s.field for s in suggestions}
