"""Users and audit: user management and the audit log (admins)."""
import streamlit as st

from engine.access import audit_entries, can
from engine.access.csv_safe import safe_csv
from engine.access import users as user_store
from engine.access.login import blocked_logins, unblock_login
from engine.access.roles import ROLES
from ui.auth import keep_session
from ui.context import require_page, workspace
from ui.text import md

user = require_page("view_audit")
st.title("Users and audit")

# Lazy tabs: only the open one runs its queries.
users_tab, audit_tab = st.tabs(["Users", "Audit log"], key="admin_tab", on_change="rerun")

with users_tab:
    if users_tab.open:
        if not can(user, "manage_users"):
            st.info("Only admins manage users.")
        else:
            people = user_store.list_users(user)
            st.dataframe(people, hide_index=True, width="stretch")
            names = [p["username"] for p in people]
            add_col, role_col, pw_col = st.columns(3)
            with add_col.form("add_user", clear_on_submit=True):
                st.markdown("**Add a user**")
                username = st.text_input("Username")
                name = st.text_input("Full name")
                email = st.text_input("Email")
                role = st.selectbox("Role", list(ROLES), index=2)
                password = st.text_input("Password", type="password")
                if st.form_submit_button("Add user"):
                    try:
                        user_store.add_user(workspace(), user, username.strip(), name, email, password, role)
                        st.success(f"Added {md(username)} as {role}.")
                        st.rerun()
                    except user_store.UserError as exc:
                        st.error(md(exc))
            with role_col.form("change_role"):
                st.markdown("**Change a role**")
                who = st.selectbox("User", names, key="role_user")
                new_role = st.selectbox("New role", list(ROLES), key="role_new")
                if st.form_submit_button("Change role"):
                    user_store.set_role(workspace(), user, who, new_role)
                    st.success(f"{md(who)} is now {new_role}.")
                    st.rerun()
            with pw_col.form("reset_password", clear_on_submit=True):
                st.markdown("**Reset a password**")
                who_pw = st.selectbox("User", names, key="pw_user")
                new_password = st.text_input("New password", type="password")
                if st.form_submit_button("Reset password"):
                    try:
                        epoch = user_store.reset_password(workspace(), user, who_pw, new_password)
                        if who_pw == user.username:
                            keep_session(user, epoch)
                        st.success(f"Password of {md(who_pw)} changed; their sessions have ended.")
                    except user_store.UserError as exc:
                        st.error(md(exc))

            st.markdown("**Disable, enable or remove a login**")
            st.caption("A disabled user cannot log in and their open sessions end at their next click; "
                       "enabling lets them in again. Removing deletes the login (the audit log keeps its history).")
            acc_col, act_col, btn_col = st.columns([2, 2, 1], vertical_alignment="bottom")
            who_acc = acc_col.selectbox("User", [n for n in names if n != user.username], key="access_user")
            action = act_col.selectbox("Action", ["Disable", "Enable", "Remove"], key="access_action")
            if btn_col.button("Apply", key="access_apply", disabled=who_acc is None):
                change = {"Disable": user_store.disable_user, "Enable": user_store.enable_user,
                          "Remove": user_store.remove_user}[action]
                try:
                    change(workspace(), user, who_acc)
                    st.session_state["admin_notice"] = f"{action}d {who_acc}."
                    st.rerun()
                except user_store.UserError as exc:
                    st.error(str(exc))
            if st.session_state.get("admin_notice"):
                st.success(st.session_state.pop("admin_notice"))

            blocked = blocked_logins(workspace(), user)
            if blocked:
                st.markdown("**Waiting after failed logins**")
                st.dataframe(blocked, hide_index=True, width="stretch")
                labels = [f"{b['scope']}: {b['subject']}" for b in blocked]
                pick = st.selectbox("Lift the wait of", labels, key="unblock_pick")
                if st.button("Lift", key="unblock_apply"):
                    chosen = blocked[labels.index(pick)]
                    unblock_login(workspace(), user, chosen["scope"], chosen["subject"])
                    st.rerun()

with audit_tab:
    if audit_tab.open:
        c1, c2, c3 = st.columns(3)
        actions = [r[0] for r in workspace().query_rows("SELECT DISTINCT action FROM audit_log ORDER BY 1")]
        action = c1.selectbox("Action", ["(all)"] + actions)
        who = c2.text_input("User name")
        limit = c3.number_input("Rows", 50, 10_000, 500, step=50)
        entries = audit_entries(workspace(), user, None if action == "(all)" else action, who.strip() or None,
                                int(limit))
        st.dataframe(entries, hide_index=True, width="stretch")
        st.download_button("Download CSV", safe_csv(entries).encode("utf-8"), "audit_log.csv", "text/csv")
