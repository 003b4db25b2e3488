"""Overview: the workspace at a glance."""
import plotly.express as px
import streamlit as st

from engine import overview
from engine.workspace.versions import NO_EVENTS
from ui.context import cached_query, require_page
from ui.recent import recent_query, recounting

require_page("view")
st.title("Overview")

# What reads events stands while only events arrive (ui/recent.py): the screen everyone opens first
# does not count 10M events again after every landing, for every person who opens it.
headline = recent_query(overview.headline)
per_day_read = recent_query(overview.events_per_day, 90)
fresh_read = recent_query(overview.source_freshness)
recounting(headline, per_day_read, fresh_read, what="the newest events")
figures = headline.value
if not figures["source_records"] and not figures["events"]:
    st.info("This workspace is empty. Upload a file on the Sources screen, stream events to the "
            "collector, or build the sample workspace with `cdp sample`.")


def _pct(value):
    return "—" if value is None else f"{value:.1%}"


cols = st.columns(5)
cols[0].metric("Profiles", f"{figures['profiles']:,}", help="Unified people after identity resolution")
cols[1].metric("Source records", f"{figures['source_records']:,}",
               help="People-bearing records from every source: CRM, orders, billing, consents")
cols[2].metric("Events", f"{figures['events']:,}")
cols[3].metric("Identity merge rate", _pct(figures["merge_rate"]),
               help="Share of source records folded into a profile that holds another record")
cols[4].metric("Advertising consent", _pct(figures["advertising_consent_share"]),
               help="Share of profiles whose latest advertising consent is granted")

left, right = st.columns([3, 2])
with left:
    st.subheader("Events per day")
    per_day = per_day_read.value
    if per_day.empty:
        st.caption("No events yet.")
    else:
        fig = px.bar(per_day, x="day", y="events", color="type", height=320)
        fig.update_layout(margin=dict(l=0, r=0, t=30, b=0), legend_title_text="",
                          legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0))
        st.plotly_chart(fig, width="stretch")
with right:
    st.subheader("Records per profile")
    dist = cached_query(overview.records_per_profile, reads=NO_EVENTS)
    if dist.empty:
        st.caption("Run identity resolution to see how records unify.")
    else:
        fig = px.bar(dist, x="records", y="profiles", height=320, log_y=True)
        fig.update_layout(margin=dict(l=0, r=0, t=10, b=0))
        st.plotly_chart(fig, width="stretch")

st.subheader("Freshness per source")
fresh = fresh_read.value
if fresh.empty:
    st.caption("No sources yet.")
else:
    st.dataframe(
        fresh, hide_index=True, width="stretch",
        column_config={
            "records": st.column_config.NumberColumn("Records", format="%d"),
            "last_update": st.column_config.DatetimeColumn("Last update", format="YYYY-MM-DD HH:mm"),
            "hours_ago": st.column_config.NumberColumn("Hours ago", format="%.1f"),
        },
    )
