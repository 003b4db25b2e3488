"""SQL: read-only queries over the workspace, personal data masked by role."""
import streamlit as st

from engine.access.csv_safe import safe_csv
from engine.sql_console import SqlRefused, run_readonly
from ui.context import require_page, workspace
from ui.text import md

user = require_page("run_sql")
st.title("SQL")
st.caption("Read-only. Tables: profiles, profile_identifiers, profile_members, contacts, events, "
           "orders, subscriptions, consents, and the views profile_events, profile_orders, "
           "revenue_orders (orders paid for, with net_amount), ... "
           "Personal columns are masked unless your role may see them.")

with st.form("sql_form"):
    query = st.text_area("Query", value=st.session_state.get("sql_query", "SELECT * FROM profiles LIMIT 100"),
                         height=160)
    submitted = st.form_submit_button("Run", type="primary", icon=":material/play_arrow:")

if submitted:
    st.session_state["sql_query"] = query
    try:
        result = run_readonly(workspace(), user, query)
    except SqlRefused as exc:
        st.error(md(exc))
    else:
        st.caption(f"{len(result):,} rows")
        st.dataframe(result, width="stretch", hide_index=True)
        st.download_button("Download CSV", safe_csv(result).encode("utf-8"),
                           file_name="query.csv", mime="text/csv")
