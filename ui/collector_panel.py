"""The event collector on the Sources screen: write keys, live tail, status, install snippets."""
from __future__ import annotations

import time
from datetime import datetime, timezone

import plotly.express as px
import streamlit as st

from engine.access import User, can
from engine.collect.tail import collector_status, event_throughput, recent_events
from engine.sources import SourceError, create_source, list_sources, rotate_write_key
from ui.context import workspace
from ui.text import md


def _events_sources():
    df = list_sources(workspace())
    return df[df["kind"] == "events"].reset_index(drop=True)


def _shown_key(key: str | None, user: User) -> str:
    if not key:
        return ""
    return key if can(user, "ingest") else key[:3] + "•" * 8


def _close_rotation() -> None:
    st.session_state.pop("collector_rotating", None)


@st.dialog("Rotate write key", on_dismiss=_close_rotation)
def _confirm_rotation(name: str, user: User) -> None:
    st.write(f"Issue a new write key for **{md(name)}**? Websites and servers still sending the old "
             "key are refused within seconds, until you update them.")
    left, right = st.columns(2)
    if left.button("Rotate key", type="primary", key="collector_rotate_confirm"):
        try:
            rotate_write_key(workspace(), user, name)
        except (SourceError, PermissionError) as exc:
            st.error(md(exc))
            return
        _close_rotation()
        st.session_state["collector_rotated"] = name
        st.rerun()
    if right.button("Cancel", key="collector_rotate_cancel"):
        _close_rotation()
        st.rerun()


def _status_section() -> dict:
    status = collector_status(workspace())
    cols = st.columns(4)
    cols[0].metric("Collector", "running" if status.get("running") else "stopped")
    cols[1].metric("Acknowledged / s", f"{status.get('acked_per_second', 0):,.0f}"
                   if status.get("running") else "–")
    cols[2].metric("Landed / s", f"{status.get('landed_per_second', 0):,.0f}"
                   if status.get("running") else "–")
    cols[3].metric("Waiting in the spool", f"{status.get('pending_segments', 0)} files",
                   help="Acknowledged events not yet in the workspace; they land within seconds "
                        "while the collector runs, or at its next start.")
    if not status.get("running"):
        st.info("The collector is not running. Start it with `cdp collect --port 8088` "
                "(see `cdp collect --help`).")
    elif status.get("problem"):
        st.error(f"The collector is degraded: {status['problem']}")
    elif status.get("last_error") and time.time() - (status.get("last_error_at") or 0) < 60:
        st.warning(f"Landing is retrying: {md(status['last_error'])}")
    return status


def _sources_section(user: User) -> None:
    sources = _events_sources()
    if sources.empty:
        st.caption("No events source yet.")
    for row in sources.itertuples():
        left, right = st.columns([4, 1])
        left.markdown(f"**{md(row.name)}**")
        left.code(_shown_key(row.write_key, user), language=None)
        if can(user, "ingest") and right.button("Rotate key", key=f"collector_rotate_{row.name}",
                                                icon=":material/autorenew:"):
            st.session_state["collector_rotating"] = row.name
    rotating = st.session_state.get("collector_rotating")
    if rotating and can(user, "ingest"):  # kept open across reruns until confirmed or dismissed
        _confirm_rotation(rotating, user)
    rotated = st.session_state.pop("collector_rotated", None)
    if rotated:
        st.success(f"{md(rotated)} has a new write key.")
    if can(user, "ingest"):
        with st.form("collector_new_source", clear_on_submit=True):
            name = st.text_input("New events source", placeholder="Website")
            if st.form_submit_button("Create events source"):
                try:
                    create_source(workspace(), user, name.strip(), "events")
                except SourceError as exc:
                    st.error(md(exc))
                else:
                    st.success(f"Created {md(name.strip())}.")
                    st.rerun()


def snippets(base_url: str, write_key: str) -> dict[str, tuple[str, str]]:
    """Install snippets pointing Segment's own libraries at the collector on base_url."""
    host = base_url.split("://", 1)[-1].rstrip("/")
    protocol = "http" if base_url.startswith("http://") else "https"
    return {
        "analytics.js (browser)": ("javascript", f"""// npm install @segment/analytics-next
import {{ AnalyticsBrowser }} from '@segment/analytics-next'

export const analytics = AnalyticsBrowser.load(
  {{ writeKey: '{write_key}', cdnURL: '{protocol}://{host}' }},   // settings from your collector
  {{ integrations: {{ 'Segment.io': {{ apiHost: '{host}/v1', protocol: '{protocol}' }} }} }}
)
analytics.page()
analytics.track('Order Completed', {{ revenue: 42.5, currency: 'EUR' }})"""),
        "Python (server)": ("python", f"""# pip install segment-analytics-python
import segment.analytics as analytics

analytics.write_key = '{write_key}'
analytics.host = '{protocol}://{host}'
analytics.track(user_id='user-123', event='Order Completed', properties={{'revenue': 42.5}})
analytics.flush()"""),
        "Node (server)": ("javascript", f"""// npm install @segment/analytics-node
import {{ Analytics }} from '@segment/analytics-node'

const analytics = new Analytics({{ writeKey: '{write_key}', host: '{protocol}://{host}' }})
analytics.track({{ userId: 'user-123', event: 'Order Completed', properties: {{ revenue: 42.5 }} }})"""),
        "curl (HTTP API)": ("bash", f"""curl {protocol}://{host}/v1/track -u '{write_key}:' \\
  -H 'Content-Type: application/json' \\
  -d '{{"userId": "user-123", "event": "Order Completed", "properties": {{"revenue": 42.5}}}}'"""),
    }


def _snippet_section(user: User, status: dict) -> None:
    sources = _events_sources()
    if sources.empty:
        return
    default = f"http://{status.get('host', '127.0.0.1')}:{status.get('port', 8088)}"
    left, right = st.columns(2)
    base_url = left.text_input(
        "Collector address on your own domain", value=default, key="collector_base_url",
        help="Serve the collector from a subdomain of your site (for example "
             "https://t.yourshop.com behind your TLS proxy) so browsers treat it as first-party.")
    name = right.selectbox("Source", list(sources["name"]), key="collector_snippet_source")
    key = sources.loc[sources["name"] == name, "write_key"].iloc[0] or ""
    shown = key if can(user, "ingest") else "YOUR_WRITE_KEY"
    for tab, (title, (language, code)) in zip(st.tabs(list(snippets(base_url, shown))),
                                             snippets(base_url, shown).items()):
        with tab:
            st.code(code, language=language)


@st.fragment(run_every=3)
def _live_tail(user: User) -> None:
    ws = workspace()
    tail = recent_events(ws, user, limit=50)
    st.caption(f"Newest events, refreshed every 3 s · {datetime.now(timezone.utc):%H:%M:%S} UTC")
    if tail.empty:
        st.caption("No events yet. Send one with a snippet below.")
    else:
        st.dataframe(tail, hide_index=True, width="stretch")
    per_minute = event_throughput(ws, 60)
    if not per_minute.empty:
        fig = px.bar(per_minute, x="minute", y="events", color="source",
                     title="Events received per minute, last hour")
        fig.update_layout(height=260, margin=dict(l=0, r=0, t=40, b=0))
        st.plotly_chart(fig, width="stretch")


def render_collector_panel(user: User) -> None:
    """Events sources and write keys, collector status, live tail and install snippets."""
    st.subheader("Event collector")
    status = _status_section()
    st.markdown("##### Events sources and write keys")
    _sources_section(user)
    st.markdown("##### Live tail")
    _live_tail(user)
    st.markdown("##### Send events from your site or servers")
    _snippet_section(user, status)
