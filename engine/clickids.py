"""Ad click ids and browser ids carried on events: where to find them, as SQL.

Sites pass them in several ways: the landing page URL (?gclid=..., ?fbclid=...),
`context.campaign`, and cookies the site's snippet copies into `context` or `properties`
(`_fbc`, `_fbp`). Every module reads them through `click_id_sql`.
"""
from __future__ import annotations

from engine.identifiers import BROWSER_ID_TYPES, CLICK_ID_TYPES  # noqa: F401 - importable from here too


def click_id_sql(cid: str, properties: str = "properties", context: str = "context") -> str:
    """SQL for the value of click/browser id `cid` on an event row, or NULL."""
    if cid not in CLICK_ID_TYPES:
        raise ValueError(f"Unknown click id {cid!r}")
    keys = [cid, "_" + cid] if cid in BROWSER_ID_TYPES else [cid]
    paths = [f"json_extract_string({col}, '$.{k}')" for col in (properties, context) for k in keys]
    paths.append(f"json_extract_string({context}, '$.cookies._{cid}')")
    paths.append(f"json_extract_string({context}, '$.campaign.{cid}')")
    if cid not in BROWSER_ID_TYPES:
        for url in (f"json_extract_string({context}, '$.page.url')", f"json_extract_string({context}, '$.page.search')",
                    f"json_extract_string({properties}, '$.url')", f"json_extract_string({properties}, '$.search')"):
            paths.append(f"nullif(regexp_extract({url}, '[?&]{cid}=([^&#]+)', 1), '')")
    return f"COALESCE({', '.join(paths)})"
