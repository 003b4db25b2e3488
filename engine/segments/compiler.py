"""All SQL the segment builder generates: a definition becomes one SELECT over `profiles`.

Every value a user typed (event names, property names, trait keys, values, dates, ids) is a
named bound parameter (`$p1`, `$p2`, ...). The only identifiers written into the SQL are
column and table names taken from allow-lists (model.PROFILE_FIELDS plus columns read from
the schema, model.VALUE_FIELDS, fixed table names).

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
from engine.revenue import NET_AMOUNT, PROFILE_REVENUE_ORDERS
from engine.segments import model
from engine.segments.model import DefinitionError

# The event relation every behavioural condition reads: profile_id, event, ts, properties.
EVENT_INDEX_TABLE = "segment_event_index"
EVENTS_VIEW_RELATION = (
    "(SELECT profile_id, COALESCE(event, type) AS event, timestamp AS ts, properties "
    "FROM profile_events)"
)
TRAIT_RELATIONS = {"contacts": "profile_contacts", "orders": "profile_orders",
                   "subscriptions": "profile_subscriptions"}
# Each person's current CRM stage: the stage of their latest CRM record that has one (by the
# source's updated time, else created time, else load time; ties by source and record id).
CURRENT_STAGE_RELATION = (
    "(SELECT profile_id, lead_stage FROM profile_contacts "
    "WHERE lead_stage IS NOT NULL AND lead_stage <> '' "
    "QUALIFY row_number() OVER (PARTITION BY profile_id ORDER BY "
    "COALESCE(updated_at, created_at, loaded_at) DESC NULLS LAST, source DESC, source_record_id DESC) = 1)"
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
        pred = getattr(self, "c_" + node["kind"])(node)
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

    # -- condition kinds -----------------------------------------------------
    def c_trait(self, c: dict) -> str:
        fld = c["field"]
        if fld.startswith("traits."):
            vt = c.get("value_type", "string")
            relation = TRAIT_RELATIONS[c.get("table", "contacts")]
            key = fld[len("traits."):]
            return self.any_record(
                relation, lambda op: self.compare(self.typed_json("traits", key, vt), vt, op, c.get("value")),
                c["op"])
        vt = self.profile_fields[fld]  # validated: fld is an allowed column
        return f"COALESCE({self.compare(f'p.{_quote(fld)}', vt, c['op'], c.get('value'))}, FALSE)"

    def c_event(self, c: dict) -> str:
        count_op = c.get("count_op", "at_least")
        n = int(c.get("count", 1))
        rows = self.event_rows(c["event"], c.get("filters"), c.get("window"))
        if count_op == "none" or (count_op == "exactly" and n == 0):
            return f"p.profile_id NOT IN ({rows})"
        if count_op == "at_least":
            if n <= 0:
                return "TRUE"
            if n == 1:
                return f"p.profile_id IN ({rows})"
            return f"p.profile_id IN ({rows} GROUP BY profile_id HAVING count(*) >= {self.bind(n)})"
        if count_op == "at_most":
            return f"p.profile_id NOT IN ({rows} GROUP BY profile_id HAVING count(*) > {self.bind(n)})"
        return f"p.profile_id IN ({rows} GROUP BY profile_id HAVING count(*) = {self.bind(n)})"

    def c_aggregate(self, c: dict) -> str:
        func = c["func"]
        if c.get("source", "event") == "orders":
            prop = c.get("property", "amount")
            if func != "count" and prop not in model.ORDER_PROPERTIES:
                raise DefinitionError(f"orders property {prop!r} is not allowed")
            value = "NULL" if func == "count" else NET_AMOUNT if prop == "amount" else _quote(prop)
            rows = (f"SELECT profile_id, {value} AS v FROM {PROFILE_REVENUE_ORDERS} "
                    f"WHERE {self.window('ordered_at', c.get('window'))}")
        else:
            vexpr = "NULL" if func == "count" else f"TRY_CAST({self.json_value('properties', c['property'])} AS DOUBLE)"
            rows = self.event_rows(c["event"], c.get("filters"), c.get("window"),
                                   columns=f"profile_id, {vexpr} AS v")
        agg = "count(*)" if func == "count" else f"{func}(v)"
        return self.having_membership(rows, agg, c["op"], c.get("value"), zero_ok=func in ("sum", "count"))

    def c_sequence(self, c: dict) -> str:
        first, then = c["first"], c["then"]
        later = self.event_rows(then["event"], then.get("filters"), c.get("window"), "profile_id, ts")
        earlier = self.event_rows(first["event"], first.get("filters"), None, "profile_id, ts")
        order = ">" if first["event"] == then["event"] else ">="
        return (f"p.profile_id IN (SELECT t.profile_id FROM ({later}) t ASOF JOIN ({earlier}) f "
                f"ON t.profile_id = f.profile_id AND t.ts {order} f.ts "
                f"WHERE t.ts <= f.ts + to_days({self.bind(int(c['within_days']))}))")

    def c_orders(self, c: dict) -> str:
        measure = c["measure"]
        if measure == "bought":
            item_field = c.get("item_field", "category")
            if item_field not in model.ITEM_FIELDS:
                raise DefinitionError(f"item field {item_field!r} is not allowed")
            win = c.get("window")
            return self.any_record(
                f"(SELECT o.profile_id, o.ordered_at, t.item FROM {PROFILE_REVENUE_ORDERS} o, "
                "unnest(TRY_CAST(o.items AS JSON[])) AS t(item))",
                lambda op: f"{self.window('ordered_at', win)} AND COALESCE("
                           f"{self.compare(self.json_value('item', item_field), 'string', op, c.get('value'))}, FALSE)",
                c.get("op", "equals"))
        if measure in model.ORDER_DATE_MEASURES:
            if c["op"] in ("is_set", "not_set"):
                sub = f"p.profile_id IN (SELECT profile_id FROM {PROFILE_REVENUE_ORDERS} WHERE ordered_at IS NOT NULL)"
                return sub if c["op"] == "is_set" else f"NOT {sub}"
            agg = "min(ordered_at)" if measure == "first_order_date" else "max(ordered_at)"
            return (f"p.profile_id IN (SELECT profile_id FROM {PROFILE_REVENUE_ORDERS} GROUP BY profile_id "
                    f"HAVING {self.compare(agg, 'date', c['op'], c.get('value'))})")
        # Money kept (engine/revenue.py): failed, cancelled and pending orders do not count,
        # refunds are taken off.
        rows = (f"SELECT profile_id, {NET_AMOUNT} AS amount FROM {PROFILE_REVENUE_ORDERS} "
                f"WHERE {self.window('ordered_at', c.get('window'))}")
        agg = {"order_count": "count(*)", "total_revenue": "sum(amount)", "avg_order_value": "avg(amount)"}[measure]
        return self.having_membership(rows, agg, c["op"], c.get("value"),
                                      zero_ok=measure in ("order_count", "total_revenue"))

    def c_subscription(self, c: dict) -> str:
        state = c.get("state", "any")
        where = []
        if state == "active":
            where.append("lower(status) IN ('active', 'trialing')")
        elif state == "cancelled":
            where.append("(lower(status) IN ('cancelled', 'canceled') OR cancelled_at IS NOT NULL)")
        plan = c.get("plan")
        if plan:
            plans = [plan] if isinstance(plan, str) else list(plan)
            where.append(f"list_contains(CAST({self.bind([p.lower() for p in plans])} AS VARCHAR[]), lower(plan))")
        where.append(self.window("cancelled_at" if state == "cancelled" else "started_at", c.get("window")))
        return f"p.profile_id IN (SELECT profile_id FROM profile_subscriptions WHERE {' AND '.join(where)})"

    def _stage_list(self, value: Any) -> str:
        stages = [value] if isinstance(value, str) else list(value)
        return f"CAST({self.bind([str(s).lower() for s in stages])} AS VARCHAR[])"

    def c_crm(self, c: dict) -> str:
        measure = c["measure"]
        if measure == "stage_is":
            return self.any_record(CURRENT_STAGE_RELATION,
                                   lambda op: f"COALESCE({self.compare('lead_stage', 'string', op, c.get('value'))}, FALSE)",
                                   c["op"])
        if measure == "owner":
            return self.any_record("profile_contacts",
                                   lambda op: f"COALESCE({self.compare('owner', 'string', op, c.get('value'))}, FALSE)",
                                   c["op"])
        if measure == "deal_value":
            return self.any_record("profile_contacts",
                                   lambda op: f"COALESCE({self.compare('deal_value', 'number', op, c.get('value'))}, FALSE)",
                                   c["op"])
        changes = ("(SELECT m.profile_id, l.stage, l.previous_stage, l.changed_at FROM lead_stage_changes l "
                   "JOIN profile_members m USING (source, source_record_id))")
        win = self.window("changed_at", c.get("window"))
        if measure == "stage_changed":
            cond = win
            if c.get("value") is not None:
                cond += f" AND list_contains({self._stage_list(c['value'])}, lower(stage))"
            return f"p.profile_id IN (SELECT profile_id FROM {changes} WHERE {cond})"
        stages = self._stage_list(c["value"])
        sub = (f"SELECT profile_id FROM {changes} WHERE {win} AND "
               f"(list_contains({stages}, lower(stage)) OR list_contains({stages}, lower(previous_stage)))")
        if not c.get("window") or c["window"].get("type", "ever") == "ever":
            sub += (f" UNION ALL SELECT profile_id FROM profile_contacts "
                    f"WHERE list_contains({self._stage_list(c['value'])}, lower(lead_stage))")
        return f"p.profile_id IN ({sub})"

    def c_value(self, c: dict) -> str:
        fld = c["field"]
        if fld not in model.VALUE_FIELDS:
            raise DefinitionError(f"value field {fld!r} is not allowed")
        col = _quote(fld)
        if c["op"] == "top_percent":
            # Ranked one by one so ties cannot swallow the cut (p_alive is 1.0 for many people):
            # equal values are ordered by the tie-breakers, then by profile id.
            order = ", ".join([f"{col} DESC"] + [f"{_quote(t)} DESC NULLS LAST" for t in model.top_percent_tiebreak(fld)]
                              + ["profile_id"])
            return (f"p.profile_id IN (SELECT profile_id FROM (SELECT profile_id, "
                    f"row_number() OVER (ORDER BY {order}) AS rank, count(*) OVER () AS scored "
                    f"FROM profile_scores WHERE {col} IS NOT NULL) "
                    f"WHERE rank <= scored * {self.bind(float(c['value']) / 100.0)})")
        vt = model.VALUE_FIELDS[fld]
        return self.any_record("profile_scores",
                               lambda op: f"COALESCE({self.compare(col, vt, op, c.get('value'))}, FALSE)",
                               c["op"])

    def c_consent(self, c: dict) -> str:
        sub = (f"p.profile_id IN (SELECT profile_id FROM profile_consent_state "
               f"WHERE purpose = {self.bind(c['purpose'])} AND granted)")
        return sub if c.get("granted", True) else f"NOT {sub}"

    def c_source(self, c: dict) -> str:
        sub = f"p.profile_id IN (SELECT profile_id FROM profile_members WHERE source = {self.bind(c['source'])})"
        return sub if c.get("present", True) else f"NOT {sub}"

    def c_tag(self, c: dict) -> str:
        tags = [c["tag"]] if isinstance(c["tag"], str) else list(c["tag"])
        return (f"p.profile_id IN (SELECT profile_id FROM profile_tags "
                f"WHERE list_contains(CAST({self.bind(tags)} AS VARCHAR[]), tag))")

    def c_segment(self, c: dict) -> str:
        seg_id = c["segment_id"]
        if seg_id in self.stack:
            chain = " -> ".join(self.stack + [seg_id])
            raise DefinitionError(f"segments refer to each other in a cycle: {chain}")
        found = self.resolve_segment(seg_id) if self.resolve_segment else None
        if found is None:
            raise DefinitionError(f"segment {seg_id!r} does not exist")
        kind, definition = found
        if kind == "static":
            return (f"p.profile_id IN (SELECT profile_id FROM segment_static_members "
                    f"WHERE segment_id = {self.bind(seg_id)})")
        self.stack.append(seg_id)
        try:
            inner = self.node(definition, 2)
        finally:
            self.stack.pop()
        return f"p.profile_id IN (SELECT p.profile_id FROM profiles p WHERE {inner})"


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


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
