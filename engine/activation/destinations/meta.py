"""Meta Custom Audiences (Marketing API): POST/DELETE /{audience_id}/users.

A request carries `payload` = {schema, data} (one row of hashed values per person, in the
schema's order, "" where unknown) and `session` = {session_id, batch_seq, last_batch_flag,
estimated_num_total} so that a multi-batch upload is processed as one. At most 10,000 rows.
"""
from __future__ import annotations

import json

from engine.activation import normalise
from engine.activation.destinations.base import BatchContext, BatchResult, Destination, json_list
from engine.activation.http import Request


class MetaCustomAudience(Destination):
    kind = "meta"
    label = "Meta Custom Audiences"
    batch_size = 10_000
    default_base_url = "https://graph.facebook.com/v21.0"
    secret_names = ("access_token",)
    required_settings = ("audience_id",)
    optional_settings = {"default_country": "ISO code for phone numbers without a country code",
                         "base_url": "API root (default: graph.facebook.com)"}
    SCHEMA = ("EMAIL", "PHONE", "FN", "LN", "CT", "ST", "ZIP", "COUNTRY", "DOBY", "DOBM", "DOBD",
              "MADID")

    def keys(self, c):
        return normalise.meta_keys(c, self.default_country)

    def member_sql(self, keys):
        row = ", ".join(f"coalesce({keys[k]}, '')" for k in self.SCHEMA)
        usable = (f"({keys['EMAIL']} IS NOT NULL OR {keys['PHONE']} IS NOT NULL OR "
                  f"{keys['MADID']} IS NOT NULL OR ({keys['FN']} IS NOT NULL AND "
                  f"{keys['LN']} IS NOT NULL AND {keys['ZIP']} IS NOT NULL))")
        return f"(CASE WHEN {usable} THEN to_json([{row}])::VARCHAR END)"

    def requests(self, members, ctx: BatchContext):
        session = {"session_id": ctx.run_id * 2 + (1 if ctx.op == "remove" else 0),
                   "batch_seq": ctx.batch_no + 1, "last_batch_flag": ctx.is_last,
                   "estimated_num_total": ctx.total_rows}
        body = ('{"payload":{"schema":' + json.dumps(list(self.SCHEMA)) + ',"data":'
                + json_list(members) + '},"session":' + json.dumps(session) + "}")
        return [Request("POST" if ctx.op == "add" else "DELETE",
                        f"{self.base_url}/{self.settings['audience_id']}/users",
                        body.encode(),
                        {"Content-Type": "application/json",
                         "Authorization": f"Bearer {self.secret('access_token')}"})]

    def result(self, resp, members, ctx):
        data = resp.json() if resp is not None else {}
        invalid = int(data.get("num_invalid_entries") or 0)
        return BatchResult(sent=len(members) - invalid, failed=invalid, response=data)
