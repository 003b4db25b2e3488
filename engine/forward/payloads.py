"""SQL of the conversions (events, orders, CRM stage changes) that forwarding turns into payloads.

Each platform's payload is SQL over these conversions in its own module
(engine.forward.destinations.<kind>). Mapping values (event names, stages, JSON paths) are bound
parameters; column expressions come from this module, the destination modules and
engine.activation.normalise only.
"""
from __future__ import annotations

from engine.clickids import click_id_sql

PERSON = ("email", "phone", "first_name", "last_name", "city", "state", "postcode", "country",
          "date_of_birth")
PERSON_COLUMNS = {k: f"c.{k}" for k in PERSON} | {"madid": "NULL"}

# One SELECT per trigger; each yields the same columns. Parameters: match, now, lookback days.
_EVENT = f"""
    SELECT e.message_id AS event_id, e.profile_id, e.timestamp AS event_time,
           CASE WHEN json_extract_string(e.context, '$.userAgent') IS NOT NULL THEN 'website' ELSE 'other' END
               AS action_source, 'WEB' AS event_source,
           json_extract_string(e.context, '$.page.url') AS source_url,
           TRY_CAST(json_extract_string(e.properties, COALESCE(?, '$.revenue')) AS DOUBLE) AS value,
           upper(json_extract_string(e.properties, COALESCE(?, '$.currency'))) AS currency,
           CAST(json_extract(e.properties, COALESCE(?, '$.__none__')) AS VARCHAR) AS content_ids,
           {click_id_sql('fbc', 'e.properties', 'e.context')} AS ev_fbc,
           {click_id_sql('fbp', 'e.properties', 'e.context')} AS ev_fbp,
           {click_id_sql('fbclid', 'e.properties', 'e.context')} AS ev_fbclid,
           {click_id_sql('gclid', 'e.properties', 'e.context')} AS ev_gclid,
           {click_id_sql('gbraid', 'e.properties', 'e.context')} AS ev_gbraid,
           {click_id_sql('wbraid', 'e.properties', 'e.context')} AS ev_wbraid,
           json_extract_string(e.context, '$.ip') AS ip,
           json_extract_string(e.context, '$.userAgent') AS user_agent
    FROM profile_events e
    WHERE e.type = 'track' AND e.event = ?
      AND e.timestamp >= CAST(? AS TIMESTAMPTZ) - to_days(CAST(? AS INTEGER))
"""

# A purchase is an order the customer paid for, worth what was kept (engine/revenue.py).
_ORDER = """
    SELECT 'order:' || o.source || ':' || o.source_record_id AS event_id, o.profile_id, o.ordered_at AS event_time,
           CASE WHEN o.store IS NOT NULL OR o.channel = 'store' THEN 'physical_store' ELSE 'other' END AS action_source,
           CASE WHEN o.store IS NOT NULL OR o.channel = 'store' THEN 'IN_STORE' ELSE 'OTHER' END AS event_source,
           NULL AS source_url, o.net_amount_local AS value, upper(o.currency) AS currency,
           CAST(json_extract(o.items, '$[*].sku') AS VARCHAR) AS content_ids,
           {NO_CLICK_IDS}
    FROM profile_revenue_orders o
    WHERE o.source = ? AND o.ordered_at >= CAST(? AS TIMESTAMPTZ) - to_days(CAST(? AS INTEGER))
      AND ? IS NULL AND ? IS NULL AND ? IS NULL
"""

_STAGE = """
    SELECT 'stage:' || l.source || ':' || l.source_record_id || ':' || l.stage AS event_id, m.profile_id,
           l.changed_at AS event_time, 'system_generated' AS action_source, 'OTHER' AS event_source,
           NULL AS source_url, c.deal_value AS value, NULL AS currency, NULL AS content_ids,
           {NO_CLICK_IDS}
    FROM lead_stage_changes l
    JOIN profile_members m USING (source, source_record_id)
    LEFT JOIN contacts c USING (source, source_record_id)
    WHERE l.stage = ? AND l.changed_at >= CAST(? AS TIMESTAMPTZ) - to_days(CAST(? AS INTEGER))
      AND ? IS NULL AND ? IS NULL AND ? IS NULL
"""

NO_CLICK_IDS = ", ".join(f"NULL AS {c}" for c in ("ev_fbc", "ev_fbp", "ev_fbclid", "ev_gclid", "ev_gbraid",
                                                     "ev_wbraid", "ip", "user_agent"))
TRIGGER_SQL = {"event": _EVENT, "order": _ORDER.replace("{NO_CLICK_IDS}", NO_CLICK_IDS),
               "stage": _STAGE.replace("{NO_CLICK_IDS}", NO_CLICK_IDS)}


def trigger_params(mapping: dict, now) -> list:
    """Parameters in the order the trigger's SELECT binds them; `now` anchors the look-back window."""
    paths = [mapping.get("value_path"), mapping.get("currency_path"), mapping.get("content_ids_path")]
    if mapping["trigger"] == "event":
        return paths + [mapping["match"], now, int(mapping["lookback_days"])]
    return [mapping["match"], now, int(mapping["lookback_days"]), *paths]


def _latest_id(id_type: str) -> str:
    return (f"(SELECT arg_max(i.id_value, i.first_seen) FROM profile_identifiers i "
            f"WHERE i.profile_id = c.profile_id AND i.id_type = '{id_type}')")


def conversions_sql(trigger: str) -> str:
    """Conversions with the person's details, click ids (event first, profile second) and consent."""
    return f"""
    WITH conv AS ({TRIGGER_SQL[trigger]}),
    c AS (
        SELECT conv.*, p.email, p.phone, p.first_name, p.last_name, p.city, p.state, p.postcode,
               p.country, p.date_of_birth, p.customer_id
        FROM conv JOIN profiles p USING (profile_id)
    )
    SELECT c.*,
           COALESCE(c.ev_fbc, {_latest_id('fbc')},
                    CASE WHEN COALESCE(c.ev_fbclid, {_latest_id('fbclid')}) IS NOT NULL
                         THEN 'fb.1.' || CAST(epoch_ms(c.event_time) AS VARCHAR) || '.'
                              || COALESCE(c.ev_fbclid, {_latest_id('fbclid')}) END) AS fbc,
           COALESCE(c.ev_fbp, {_latest_id('fbp')}) AS fbp,
           COALESCE(c.ev_gclid, {_latest_id('gclid')}) AS gclid,
           COALESCE(c.ev_gbraid, {_latest_id('gbraid')}) AS gbraid,
           COALESCE(c.ev_wbraid, {_latest_id('wbraid')}) AS wbraid,
           COALESCE(cs.granted, false) AS advertising_ok,
           COALESCE(ss.granted, true) AS sale_sharing_ok
    FROM c
    LEFT JOIN profile_consent_state cs ON cs.profile_id = c.profile_id AND cs.purpose = 'advertising'
    LEFT JOIN profile_consent_state ss ON ss.profile_id = c.profile_id AND ss.purpose = 'sale_sharing'
    """


def as_list(expr: str) -> str:
    """A one-element list of `expr`, or NULL (a payload key left out) when it is NULL."""
    return f"(CASE WHEN {expr} IS NULL THEN NULL ELSE list_value({expr}) END)"
