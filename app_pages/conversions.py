"""Conversions: forward purchases, leads and offline sales to ad platforms server-side."""
import json

import plotly.express as px
import streamlit as st

from engine.access import can
from engine.forward import config, quality, sandbox
from engine.forward.deliver import ForwardError, retry_dead
from engine.forward.queue import preview
from engine.forward.worker import run_once
from ui.context import require_page, workspace
from ui.text import md, plain
from ui.sandbox_panel import render_sandbox_panel

user = require_page("view")
ws = workspace()
st.title("Conversions")
st.caption("Purchases, sign-ups, store sales and CRM wins sent from the server to Meta and Google, "
           "matched to the ad clicks that caused them, only for people who consented to advertising. "
           "The `sandbox` destination needs no credentials: it writes what Meta would receive to files.")

destinations = config.list_destinations(ws)
if can(user, "manage_destinations"):
    with st.expander("Add a destination", expanded=destinations.empty):
        with st.form("add_forward_destination"):
            name = st.text_input("Name", placeholder="meta-main")
            kind = st.selectbox("Platform", list(config.KINDS), format_func=lambda k: config.KINDS[k]["label"])
            st.caption(md(config.settings_help()) + " The access token goes in .streamlit/secrets.toml under "
                       "[destinations.<name>] access_token, never here; a sandbox needs none.")
            raw = st.text_area("Settings (one KEY=VALUE per line)", placeholder="pixel_id=1234567890")
            if st.form_submit_button("Save destination"):
                try:
                    settings = dict(line.split("=", 1) for line in raw.splitlines() if "=" in line)
                    config.add_destination(ws, user, name, kind, {k.strip(): v.strip() for k, v in settings.items()})
                    st.rerun()
                except ValueError as exc:
                    st.error(md(exc))
if destinations.empty:
    st.info("No forwarding destination yet." + ("" if can(user, "manage_destinations")
                                                else " An admin can add one."))
    st.stop()

dest_name = st.selectbox("Destination", list(destinations["name"]))
dest = config.get_destination(ws, dest_name)
token_ok = bool(config.delivery_token(dest))
if dest["sandbox"]:
    st.caption(f"{dest['label']} · no credentials needed. On the sample, map `Order Completed` as "
               "`Purchase` (value `$.revenue`, currency `$.currency`), then Forward now.")
else:
    st.caption(f"{dest['label']} · sends to `{dest['base_url']}` · "
               + ("access token found" if token_ok else ":red[no access token configured]"))

alert = quality.auth_alert(ws, dest_name)
if alert:
    st.error("Forwarding to this destination stopped: the platform refused the access token. "
             "Events stay queued and are sent once a renewed token works.", icon=":material/key_off:")
    st.text(f"{alert['at']:%Y-%m-%d %H:%M}  {alert['message']}")   # platform text: shown as plain text

# Lazy tabs: only the open one runs its queries.
mappings_tab, delivery_tab, quality_tab = st.tabs(["Event mappings", "Delivery", "Match quality"],
                                                  key="conversions_tab", on_change="rerun")

with mappings_tab:
    if mappings_tab.open:
        mappings = config.list_mappings(ws, dest_name)
        if mappings.empty:
            st.caption("Nothing is forwarded yet: map an event below.")
        else:
            st.dataframe(mappings[["mapping_id", "trigger", "match", "platform_event", "value_path", "currency_path",
                                   "content_ids_path", "lookback_days", "enabled"]], hide_index=True, width="stretch")
        if can(user, "manage_destinations"):
            with st.form("add_mapping"):
                c1, c2, c3 = st.columns(3)
                trigger = c1.selectbox("When", config.TRIGGERS, format_func=lambda t: {
                    "event": "a tracked event", "order": "an order from a source", "stage": "a CRM lead stage"}[t])
                match = c2.text_input("Which", placeholder="Order Completed / pos / customer")
                platform_event = c3.text_input("Send as", placeholder="Purchase")
                c4, c5, c6, c7 = st.columns(4)
                value_path = c4.text_input("Value path", placeholder="$.revenue")
                currency_path = c5.text_input("Currency path", placeholder="$.currency")
                content_path = c6.text_input("Content ids path", placeholder="$.products[*].product_id")
                lookback = c7.number_input("Look back (days)", 1, 90, 7)
                if st.form_submit_button("Add mapping"):
                    try:
                        config.add_mapping(ws, user, dest_name, trigger, match, platform_event, value_path or None,
                                           currency_path or None, content_path or None, int(lookback))
                        st.rerun()
                    except ValueError as exc:
                        st.error(md(exc))
        if not mappings.empty and can(user, "view_pii"):
            st.subheader("Payload preview")
            chosen = st.selectbox("Mapping", list(mappings["mapping_id"]), format_func=lambda m: (
                f"{m}: {mappings.set_index('mapping_id').loc[m, 'match']} → "
                f"{mappings.set_index('mapping_id').loc[m, 'platform_event']}"))
            shown = preview(ws, dest_name, int(chosen))
            if not shown:
                st.caption("No recent conversion matches this mapping.")
            for item in shown:
                st.caption("Would be sent" if item["would_send"] else "Held back: no advertising consent")
                st.json(item["payload"], expanded=False)

with delivery_tab:
    if delivery_tab.open:
        counts = quality.status_counts(ws, dest_name)
        if counts.empty:
            st.caption("Nothing queued yet.")
        else:
            labels = counts.assign(label=counts["status"] + counts["reason"].map(lambda r: f" ({plain(r)})" if r else ""))
            fig = px.bar(labels, x="events", y="label", orientation="h", height=240)
            fig.update_layout(margin=dict(l=0, r=0, t=10, b=0), yaxis_title="")
            st.plotly_chart(fig, width="stretch")
        if can(user, "push_audiences"):
            if st.button("Forward now", type="primary", icon=":material/send:", disabled=not token_ok):
                with st.spinner("Queueing and sending..."):
                    result = run_once(ws, user, dest_name).get(dest_name, {})
                if "error" in result:
                    st.error(md(result["error"]))
                else:
                    st.success(f"Queued {result['queued']['pending']:,} (held back {result['queued']['held']:,}); "
                               f"sent {result['sent']:,}, dead {result['dead']:,}, retrying {result['retrying']:,}; "
                               f"skipped {result['skipped']:,} (consent withdrawn, suppressed or erased since queueing), "
                               f"expired {result['expired']:,} (past the platform's age limit).")
            st.caption("For continuous forwarding run `cdp forward` as a service, or `cdp forward --once` from cron.")
        if dest["sandbox"]:
            st.subheader("What the sandbox received")
            render_sandbox_panel(sandbox.written(ws, dest_name), user, key="fwd_sandbox")
        st.subheader("Delivery log")
        st.dataframe(quality.delivery_log(ws, dest_name), hide_index=True, width="stretch")
        dead = quality.dead_letters(ws, dest_name)
        st.subheader(f"Dead letters ({len(dead):,})")
        if not dead.empty:
            st.dataframe(dead.drop(columns=["payload"]), hide_index=True, width="stretch")
            if can(user, "push_audiences") and st.button("Retry dead letters"):
                st.success(f"{retry_dead(ws, user, dest_name):,} events queued again.")
                st.rerun()

with quality_tab:
    if quality_tab.open:
        share = quality.match_quality(ws, dest_name)
        if share.empty:
            st.caption("Match quality appears once events are forwarded.")
        else:
            fig = px.line(share, x="day", y="share", color="identifier", markers=True, height=360,
                          labels={"share": "share of events"})
            fig.update_yaxes(tickformat=".0%", range=[0, 1.05])
            st.plotly_chart(fig, width="stretch")
            st.caption("Platforms match more conversions to ads when events carry more identifiers: "
                       "click ids and browser ids most of all, then email and phone, then IP with user agent.")
