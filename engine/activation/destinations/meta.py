"""Meta Custom Audiences (Marketing API): POST/DELETE /{audience_id}/users.

A request carries `payload` = {schema, is_raw, data} (one row per person, in the schema's
order, "" where unknown) and `session` = {session_id, batch_seq, last_batch_flag,
estimated_num_total} so that a multi-batch upload is processed as one. At most 10,000 rows.

As Meta documents for multi-key uploads: `is_raw: true` with the schema; every key SHA-256
hashed after normalising, except MADID (mobile advertiser id), sent in plain lowercase.

Value-based seeds (setting `value_based=yes`): the audience must have been created as a
value-based custom audience (`is_value_based: true`); each row then carries LOOKALIKE_VALUE,
the person's predicted customer lifetime value (engine.value, `profile_scores.predicted_clv`;
0 when none is predicted), a non-negative number Meta uses to weight the lookalike.
"""
from __future__ import annotations

import json

from engine.activation import normalise
from engine.activation.destinations.base import BatchContext, BatchResult, Destination, json_list
from engine.activation.http import Request

TRUE = {"1", "true", "yes", "y"}


class MetaCustomAudience(Destination):
    kind = "meta"
    label = "Meta Custom Audiences"
    batch_size = 10_000
    default_base_url = "https://graph.facebook.com/v21.0"
    secret_names = ("access_token",)
    required_settings = ("audience_id",)
    optional_settings = {"default_country": "ISO code for phone numbers without a country code",
                         "value_based": "yes when the audience is a value-based custom audience: rows "
                                        "carry LOOKALIKE_VALUE (predicted customer lifetime value)",
                         "base_url": "API root (default: graph.facebook.com)"}
    SCHEMA = ("EMAIL", "PHONE", "FN", "LN", "CT", "ST", "ZIP", "COUNTRY", "DOBY", "DOBM", "DOBD",
              "MADID")
    VALUE_KEY = "LOOKALIKE_VALUE"

    @property
    def value_based(self) -> bool:
        return str(self.settings.get("value_based", "")).strip().lower() in TRUE

    @property
    def schema(self) -> tuple[str, ...]:
        return self.SCHEMA + ((self.VALUE_KEY,) if self.value_based else ())

    def keys(self, c):
        keys = normalise.meta_keys(c, self.default_country)
        if self.value_based:
            keys[self.VALUE_KEY] = f"round(greatest(coalesce(CAST({c.get('value') or 'NULL'} AS DOUBLE), 0), 0), 2)"
        return keys

    def member_sql(self, keys):
        row = ", ".join(f"coalesce({keys[k]}, '')" for k in self.SCHEMA)
        usable = (f"({keys['EMAIL']} IS NOT NULL OR {keys['PHONE']} IS NOT NULL OR "
                  f"{keys['MADID']} IS NOT NULL OR ({keys['FN']} IS NOT NULL AND "
                  f"{keys['LN']} IS NOT NULL AND {keys['ZIP']} IS NOT NULL))")
        row_json = f"to_json([{row}])::VARCHAR"
        if self.value_based:   # a number after the text keys: ["<hash>", ..., 125.5]
            row_json = f"rtrim({row_json}, ']') || ',' || to_json({keys[self.VALUE_KEY]})::VARCHAR || ']'"
        return f"(CASE WHEN {usable} THEN {row_json} END)"

    def requests(self, members, ctx: BatchContext):
        session = {"session_id": ctx.run_id * 2 + (1 if ctx.op == "remove" else 0),
                   "batch_seq": ctx.batch_no + 1, "last_batch_flag": ctx.is_last,
                   "estimated_num_total": ctx.total_rows}
        body = ('{"payload":{"schema":' + json.dumps(list(self.schema)) + ',"is_raw":true,"data":'
                + json_list(members) + '},"session":' + json.dumps(session) + "}")
        return [Request("POST" if ctx.op == "add" else "DELETE",
                        f"{self.base_url}/{self.settings['audience_id']}/users",
                        body.encode(),
                        {"Content-Type": "application/json",
                         "Authorization": f"Bearer {self.secret('access_token')}"})]

    def batch_report(self, response):
        data = response or {}
        return {"num_received": int(data.get("num_received") or 0),
                "num_invalid_entries": int(data.get("num_invalid_entries") or 0),
                "invalid_entry_samples": dict(data.get("invalid_entry_samples") or {})}

    def result(self, resp, members, ctx):
        data = resp.json() if resp is not None else {}
        invalid = int(data.get("num_invalid_entries") or 0)
        return BatchResult(sent=len(members) - invalid, failed=invalid, response=data)
