"""The SQL the segment builder generates: a definition becomes one SELECT over `profiles`.

This module owns the tree (groups), the pieces every kind shares (windows, operators, event
rows, aggregates) and the SQL for reach, members and overlap; each condition kind's own SQL is
its module's `compile(comp, c)` in engine/segments/kinds/, called with the `_Compiler` below.

Every value a user typed (event names, property names, trait keys, values, dates, ids) is a
named bound parameter (`$p1`, `$p2`, ...). The only identifiers written into the SQL are
column and table names taken from allow-lists (the trait kind's PROFILE_FIELDS plus columns
read from the schema, the value kind's VALUE_FIELDS, fixed table names).

Shape: `SELECT p.profile_id FROM profiles p WHERE <predicate>`; a group is AND / OR /
NOT(OR) of its children; a condition on a golden-record field is a predicate on `p`; every
other condition is `p.profile_id [NOT] IN (subquery)`, which DuckDB runs as a hash semi/anti
join. Subqueries never yield a NULL profile_id, so IN is always TRUE or FALSE, and
field predicates are wrapped in COALESCE(..., FALSE): `none of` behaves on unknown values.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from engine.identifiers import AD_ID_TYPES
import engine.segments.kinds as kinds
import engine.segments.model as model

# The event relation every behavioural condition reads: profile_id, event, ts, properties.
EVENT_INDEX_TABLE = "segment_event_index"
EVENTS_VIEW_RELATION = (
    "(SELECT profile_id, COALESCE(event, type) AS event, timestamp AS ts, properties "
    "FROM profile_events)"
)
NEGATIVE_OPS = {"not_equals": "equals", "not_one_of": "one_of", "not_contains": "contains",
                "not_set": "is_set"}
_COMPARE = {"equals": operator.eq, "gt": operator.gt, "gte": operator.ge, "lt": operator.lt,
            "lte": operator.le, "not_equals": operator.ne}
_SQL_OP = {"equals": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}

# segment_id -> ("rules", definition) | ("static", None); None when unknown.
SegmentResolver = Callable[[str], "tuple[str, dict | None] | None"]


@dataclass
class Compiled:
    """A compiled definition: SQL selecting profile_id, and its named parameters."""

    sql: str
    params: dict[str, Any]

    def count_sql(self) -> str:
        return f"SELECT count(*) FROM ({self.sql}) AS segment"

    def pretty(self) -> str:
        """The SQL with its parameters listed underneath (for admins; values are not inlined)."""
        lines = [self.sql, "", "-- parameters"]
        lines += [f"-- ${k} = {v!r}" for k, v in self.params.items()]
        return "\n".join(lines)


@dataclass
class _Compiler:
    as_of: datetime
    events: str
    profile_fields: dict[str, str]
    resolve_segment: SegmentResolver | None
    params: dict[str, Any] = field(default_factory=dict)
    stack: list[str] = field(default_factory=list)

    # -- parameters ---------------------------------------------------------
    def bind(self, value: Any) -> str:
        name = f"p{len(self.params) + 1}"
        self.params[name] = value
        return f"${name}"

    def as_of_param(self) -> str:
        if "as_of" not in self.params:
            self.params["as_of"] = self.as_of
        return "$as_of::TIMESTAMPTZ"

    # -- tree ---------------------------------------------------------------
    def node(self, node: dict, indent: int = 1) -> str:
        if node.get("type") == "group":
            children = [self.node(c, indent + 1) for c in node.get("children", [])]
            pad = "\n" + "    " * indent
            if node["op"] == "all":
                return "(" + pad + (pad + "AND ").join(children) + ")" if children else "TRUE"
            joined = "(" + pad + (pad + "OR ").join(children) + ")" if children else "FALSE"
            return joined if node["op"] == "any" else f"NOT {joined}"
        pred = kinds.get(node["kind"]).compile(self, node)
        return f"NOT ({pred})" if node.get("negate") else pred

    # -- shared pieces -------------------------------------------------------
    def window(self, column: str, window: dict | None) -> str:
        if not window or window.get("type", "ever") == "ever":
            return "TRUE"
        kind = window["type"]
        if kind == "last_days":
            return (f"{column} >= {self.as_of_param()} - to_days({self.bind(int(window['days']))}) "
                    f"AND {column} <= {self.as_of_param()}")
        if kind == "between_dates":
            return (f"{column} >= CAST({self.bind(str(window['start']))} AS DATE) AND "
                    f"{column} < CAST({self.bind(str(window['end']))} AS DATE) + INTERVAL 1 DAY")
        return (f"{column} >= {self.as_of_param()} - to_days({self.bind(int(window['max_days']))}) "
                f"AND {column} <= {self.as_of_param()} - to_days({self.bind(int(window['min_days']))})")

    def compare(self, expr: str, value_type: str, op: str, value: Any) -> str:
        """A predicate on expr; may be NULL when expr is NULL (callers wrap or negate)."""
        if op in ("is_set", "not_set"):
            test = (f"({expr} IS NOT NULL AND CAST({expr} AS VARCHAR) <> '')"
                    if value_type == "string" else f"{expr} IS NOT NULL")
            return test if op == "is_set" else f"NOT {test}"
        if value_type == "string":
            text = f"CAST({expr} AS VARCHAR)"
            if op == "equals":
                return f"{text} = {self.bind(str(value))}"
            if op == "not_equals":
                return f"{text} IS DISTINCT FROM {self.bind(str(value))}"
            if op in ("one_of", "not_one_of"):
                test = f"COALESCE(list_contains(CAST({self.bind([str(v) for v in value])} AS VARCHAR[]), {text}), FALSE)"
                return test if op == "one_of" else f"NOT {test}"
            fn = {"contains": "contains", "not_contains": "contains", "starts_with": "starts_with",
                  "ends_with": "suffix"}[op]
            test = f"{fn}(lower({text}), lower({self.bind(str(value))}))"
            return f"NOT COALESCE({test}, FALSE)" if op == "not_contains" else test
        if value_type == "number":
            num = f"CAST({expr} AS DOUBLE)"
            if op == "between":
                return f"{num} BETWEEN {self.bind(float(value[0]))} AND {self.bind(float(value[1]))}"
            if op == "one_of":
                return f"COALESCE(list_contains(CAST({self.bind([float(v) for v in value])} AS DOUBLE[]), {num}), FALSE)"
            if op == "not_equals":
                return f"{num} IS DISTINCT FROM {self.bind(float(value))}"
            return f"{num} {_SQL_OP[op]} {self.bind(float(value))}"
        if value_type == "date":
            ts = f"CAST({expr} AS TIMESTAMPTZ)"
            day = f"CAST({expr} AS DATE)"
            if op == "within_last_days":
                return (f"{ts} >= {self.as_of_param()} - to_days({self.bind(int(value))}) "
                        f"AND {ts} <= {self.as_of_param()}")
            if op == "more_than_days_ago":
                return f"{ts} < {self.as_of_param()} - to_days({self.bind(int(value))})"
            if op == "between":
                return (f"{day} BETWEEN CAST({self.bind(str(value[0]))} AS DATE) "
                        f"AND CAST({self.bind(str(value[1]))} AS DATE)")
            sym = {"before": "<", "after": ">", "on": "="}[op]
            return f"{day} {sym} CAST({self.bind(str(value))} AS DATE)"
        # boolean
        return f"TRY_CAST({expr} AS BOOLEAN) = {'TRUE' if op == 'is_true' else 'FALSE'}"

    def json_value(self, column: str, key: str) -> str:
        return f"json_extract_string({column}, {self.bind('$.' + chr(34) + key + chr(34))})"

    def typed_json(self, column: str, key: str, value_type: str) -> str:
        raw = self.json_value(column, key)
        return {"number": f"TRY_CAST({raw} AS DOUBLE)", "date": f"TRY_CAST({raw} AS TIMESTAMPTZ)",
                "boolean": f"TRY_CAST({raw} AS BOOLEAN)"}.get(value_type, raw)

    def any_record(self, relation: str, where: Callable[[str], str], op: str) -> str:
        """Member if any record of the profile in relation satisfies op; negative ops
        (not_equals, not_one_of, not_contains, not_set) mean no record satisfies the positive op."""
        positive = NEGATIVE_OPS.get(op, op)
        sub = f"p.profile_id IN (SELECT profile_id FROM {relation} WHERE {where(positive)})"
        return f"NOT {sub}" if op in NEGATIVE_OPS else sub

    def filters(self, filters: list | None) -> str:
        parts = []
        for f in filters or []:
            vt = f.get("value_type", "string")
            expr = self.typed_json("properties", f["property"], vt)
            parts.append(f"COALESCE({self.compare(expr, vt, f['op'], f.get('value'))}, FALSE)")
        return " AND ".join(parts) if parts else "TRUE"

    def event_rows(self, event: str, filters: list | None, window: dict | None, columns: str = "profile_id") -> str:
        where = [f"event = {self.bind(event)}"]
        win = self.window("ts", window)
        if win != "TRUE":
            where.append(win)
        filt = self.filters(filters)
        if filt != "TRUE":
            where.append(filt)
        return f"SELECT {columns} FROM {self.events} WHERE " + " AND ".join(where)

    def having_membership(self, rows_sql: str, agg: str, op: str, value: Any, zero_ok: bool) -> str:
        """Member when agg over the profile's rows satisfies op/value. When zero_ok (sum, count)
        and the test holds at 0, people with no rows are members too: compile as NOT IN the
        people whose aggregate fails the test."""
        test = self.compare(agg, "number", op, value)
        if zero_ok and _holds_at_zero(op, value):
            return (f"p.profile_id NOT IN (SELECT profile_id FROM ({rows_sql}) GROUP BY profile_id "
                    f"HAVING NOT COALESCE({test}, FALSE))")
        return f"p.profile_id IN (SELECT profile_id FROM ({rows_sql}) GROUP BY profile_id HAVING {test})"


def _holds_at_zero(op: str, value: Any) -> bool:
    if op == "between":
        return float(value[0]) <= 0 <= float(value[1])
    if op == "one_of":
        return any(float(v) == 0 for v in value)
    if op in _COMPARE:
        return _COMPARE[op](0.0, float(value))
    return False


def compile_definition(definition: dict, *, as_of: datetime | None = None,
                       events_relation: str = EVENTS_VIEW_RELATION,
                       profile_fields: dict[str, str] | None = None,
                       resolve_segment: SegmentResolver | None = None,
                       segment_id: str | None = None) -> Compiled:
    """Compile a validated definition into SQL selecting the members' profile_id.

    events_relation is one of this module's constants (the materialised index or the view);
    segment_id (the segment being compiled, if saved) seeds cycle detection.
    """
    if events_relation not in (EVENT_INDEX_TABLE, EVENTS_VIEW_RELATION):
        raise ValueError("unknown events relation")
    fields = profile_fields or model.PROFILE_FIELDS
    definition = model.validate(definition, fields)
    when = as_of or datetime.now(timezone.utc)
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    comp = _Compiler(as_of=when, events=events_relation, profile_fields=fields,
                     resolve_segment=resolve_segment, stack=[segment_id] if segment_id else [])
    pred = comp.node(definition)
    return Compiled(sql=f"SELECT p.profile_id FROM profiles p WHERE {pred}", params=comp.params)


# -- SQL for reachability, members and overlap (kept here: all generated SQL in one place) ----

# AD_ID_TYPES (engine.identifiers): the identifiers counted as ad ids in members and reach.


def members_sql(compiled: Compiled, limit: int | None = None) -> tuple[str, dict]:
    """Members with the identifiers activation needs (email, phone, ad ids, names for matching).

    With limit, only the first `limit` members (by profile_id) are looked up (samples).
    """
    params = dict(compiled.params)
    params["ad_types"] = list(AD_ID_TYPES)
    members = compiled.sql
    if limit is not None:
        params["member_limit"] = int(limit)
        members = f"SELECT profile_id FROM ({compiled.sql}) ORDER BY profile_id LIMIT $member_limit"
    sql = f"""
WITH members AS ({members}),
ids AS (
    SELECT i.profile_id,
           string_agg(DISTINCT i.id_value, ';') FILTER (WHERE i.id_type = 'email') AS emails,
           string_agg(DISTINCT i.id_value, ';') FILTER (WHERE i.id_type = 'phone') AS phones,
           min(i.id_value) FILTER (WHERE i.id_type = 'fbc') AS fbc,
           min(i.id_value) FILTER (WHERE i.id_type = 'fbp') AS fbp,
           min(i.id_value) FILTER (WHERE i.id_type = 'gclid') AS gclid,
           count(*) FILTER (WHERE list_contains(CAST($ad_types AS VARCHAR[]), i.id_type)) AS ad_ids
    FROM profile_identifiers i JOIN members USING (profile_id)
    GROUP BY i.profile_id
)
SELECT p.profile_id, p.email, p.phone, p.first_name, p.last_name, p.city, p.postcode,
       p.state, p.country, p.date_of_birth, p.customer_id, p.user_id,
       ids.emails AS all_emails, ids.phones AS all_phones, ids.fbc, ids.fbp, ids.gclid,
       COALESCE(ids.ad_ids, 0) AS ad_id_count
FROM profiles p JOIN members m USING (profile_id)
LEFT JOIN ids USING (profile_id)
ORDER BY p.profile_id"""
    return sql, params


def reach_sql(compiled: Compiled, check_suppressions: bool = True) -> tuple[str, dict]:
    """Counts of members reachable by email, by phone, by ad identifiers, and in total.

    A member is reachable by email when the golden record or any identifier holds one, and so
    on. Identifiers whose sha256 is in `suppressions` do not count (pass
    check_suppressions=False when that table is empty: hashing every identifier is the costly
    part). One pass over the members with hash semi-joins per channel.
    """
    params = dict(compiled.params)
    params["ad_types"] = list(AD_ID_TYPES)

    def unsuppressed(id_type: str, value: str) -> str:
        if not check_suppressions:
            return ""
        return (f" AND NOT EXISTS (SELECT 1 FROM suppressions s "
                f"WHERE s.id_type = {id_type} AND s.id_hash = sha256({value}))")

    def ids_of(id_type: str) -> str:
        return (f"SELECT i.profile_id FROM profile_identifiers i SEMI JOIN members USING (profile_id) WHERE i.id_type = '{id_type}'"
                + unsuppressed("i.id_type", "i.id_value"))

    sql = f"""
WITH members AS ({compiled.sql}),
flags AS (
    SELECT
        (p.email IS NOT NULL AND p.email <> ''{unsuppressed("'email'", "lower(trim(p.email))")})
            OR p.profile_id IN ({ids_of('email')}) AS by_email,
        (p.phone IS NOT NULL AND p.phone <> ''{unsuppressed("'phone'", "p.phone")})
            OR p.profile_id IN ({ids_of('phone')}) AS by_phone,
        p.profile_id IN (SELECT i.profile_id FROM profile_identifiers i SEMI JOIN members USING (profile_id)
                         WHERE list_contains(CAST($ad_types AS VARCHAR[]), i.id_type)) AS by_ad
    FROM profiles p JOIN members m ON m.profile_id = p.profile_id
)
SELECT count(*) AS members,
       count(*) FILTER (WHERE by_email) AS email,
       count(*) FILTER (WHERE by_phone) AS phone,
       count(*) FILTER (WHERE by_ad) AS ad_ids,
       count(*) FILTER (WHERE by_email OR by_phone OR by_ad) AS any_channel
FROM flags"""
    return sql, params


def overlap_sql(compiled: dict[str, Compiled]) -> tuple[str, dict]:
    """One row per member and combination: (profile_id, segment_ids list) for the chosen segments.

    Parameters of each compiled segment are renamed (s0_p1, ...) so they cannot collide.
    """
    parts, params = [], {}
    for i, (seg_id, comp) in enumerate(compiled.items()):
        sql = comp.sql
        # Rename longest names first so $p1 does not clobber $p12.
        for name in sorted(comp.params, key=len, reverse=True):
            new = f"s{i}_{name}"
            sql = sql.replace(f"${name}", f"${new}")
            params[new] = comp.params[name]
        params[f"s{i}_id"] = seg_id
        parts.append(f"SELECT profile_id, $s{i}_id AS segment_id FROM ({sql})")
    union = "\nUNION ALL\n".join(parts)
    return (f"SELECT profile_id, list_sort(list(segment_id)) AS segment_ids "
            f"FROM ({union}) GROUP BY profile_id"), params


def profile_fields_sql() -> str:
    return ("SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'main' AND table_name = 'profiles' ORDER BY ordinal_position")


def type_of(sql_type: str) -> str:
    t = sql_type.upper()
    if any(x in t for x in ("INT", "DOUBLE", "FLOAT", "DECIMAL", "REAL", "NUMERIC")):
        return "number"
    if "DATE" in t or "TIME" in t:
        return "date"
    if "BOOL" in t:
        return "boolean"
    return "string"
