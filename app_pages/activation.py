"""Audiences: dry run then push a segment to a destination; sync history; exports; destinations."""
import json

import pandas as pd
import plotly.express as px
import streamlit as st

from engine.access import can
from engine.activation import audiences, config, export, feedback, sync
from engine.activation.destinations import KINDS
from engine.activation.destinations import sandbox
from engine.jobs import running_job
from ui.context import require_page, workspace
from ui.freshness import keep_fresh
from ui.jobs import job_panel
from ui.jobs import start as start_job
from ui.text import md
from ui.sandbox_panel import render_sandbox_panel
from ui.lift_panel import render_lift_panel

SYNC_JOB = "sync"

user = require_page("view")
ws = workspace()
st.title("Audiences")
st.caption("Send segments where money is spent. Consent and suppression are enforced here: people "
           "without the consent a destination needs (advertising for ad platforms, email marketing for "
           "email tools), who opted out of sale/sharing or sent Global Privacy Control, and suppressed "
           "people are never sent. A schedule or holdout is saved when a push succeeds. To try it "
           "without credentials, push to the `sandbox` destination: it writes what Meta would receive "
           "to files instead.")
keep_fresh("segment event index")   # counts read events directly until it is updated

sources = audiences.list_sources(ws)
source_labels = {f"{k}:{i}": label for k, i, label in sources}
dests = config.list_destinations(ws)

tab_names = ["Push", "History", "Export"] + (["Destinations"] if can(user, "manage_destinations") else [])
# Lazy tabs: only the open one runs its queries.
tabs = dict(zip(tab_names, st.tabs(tab_names, key="activation_tab", on_change="rerun")))


def _fmt(n) -> str:
    return f"{int(n):,}"


def _show_report(report: dict | None) -> None:
    """What the platform said about a push (received, invalid rows, diagnostics, match rate)."""
    lines = feedback.describe(report)
    if lines:
        st.markdown("**What the platform reported**")
        for line in lines:
            st.text(line)


def _push(key: str, full: bool, schedule: str, holdout: float):
    """The job: the sync itself, in the background (it goes on when the tab is closed)."""
    return lambda progress: sync.sync(ws, user, key, full=full, progress=progress, schedule=schedule,
                                      holdout_pct=holdout)


def _pushed(out: dict) -> str:
    return (f"{out['status'].title()}. Run {out['run_id']}: added {_fmt(out['added'])}, removed "
            f"{_fmt(out['removed'])}, failed {_fmt(out['failed'])}, held back {_fmt(out['held_back'])}.")


def _push_details(out: dict) -> None:
    for err in out["errors"]:
        st.text(err)
    _show_report(out["platform_report"])


with tabs["Push"]:
    if tabs["Push"].open:
        # The latest push, running or finished, for whoever opens the screen.
        job_panel(SYNC_JOB, _pushed, ok=lambda out: out["status"] == "succeeded", details=_push_details)
        if not can(user, "push_audiences"):
            st.info("Your role may look at sync history but not push audiences.")
        elif not sources:
            st.info("No audience yet: build a segment, or tag profiles, first.")
        elif dests.empty:
            st.info("No destination yet: an admin adds one under Destinations.")
        else:
            c1, c2 = st.columns(2)
            src = c1.selectbox("Audience", list(source_labels), format_func=source_labels.get, key="act_source")
            dest = c2.selectbox("Destination", list(dests["name"]), key="act_dest",
                                format_func=lambda n: f"{n} ({dests.set_index('name').loc[n, 'label']})")
            c3, c4, c5 = st.columns(3)
            holdout = c3.number_input("Holdout group (%)", 0.0, 50.0, 0.0, 5.0, key="act_holdout",
                                      help="A stable share kept out of every push, to measure lift later.")
            schedule = c4.selectbox("Schedule", list(audiences.SCHEDULES), key="act_schedule",
                                    help="`cdp audience sync --all` (cron) runs hourly and daily syncs.")
            full = c5.toggle("Full mirror", key="act_full", help="Resend every member, not only the changes.")
            kind, sid = audiences.parse_source(src)
            if st.button("Dry run", type="primary", key="act_dry_run"):
                try:
                    # Schedule and holdout are saved by a push that succeeds, not by the dry run.
                    key = audiences.link_audience(ws, user, kind, sid, dest)
                    with st.spinner("Working out what would be sent"):
                        st.session_state["act_plan"] = sync.dry_run(ws, user, key, full=full, holdout_pct=holdout)
                except (ValueError, PermissionError) as exc:
                    st.session_state.pop("act_plan", None)
                    st.error(md(exc))
            plan = st.session_state.get("act_plan")
            if plan and plan["audience_key"] == audiences.audience_key(kind, sid, dest):
                m = st.columns(5)
                m[0].metric("To add", _fmt(plan["to_add"]))
                m[1].metric("To remove", _fmt(plan["to_remove"]))
                m[2].metric("Held back", _fmt(plan["held_back"]))
                m[3].metric("Holdout", _fmt(plan["holdout"]))
                learned = plan.get("match_rate_reports") or 0
                m[4].metric("Expected match rate", f"{plan['expected_match_rate']:.0%}",
                            help=(f"Typical match rates of the keys members have ({plan['typical_match_rate']:.0%}), "
                                  f"scaled by what the last {learned} report(s) of this destination showed."
                                  if learned else
                                  "A rough estimate from typical match rates of the keys members have; "
                                  "it learns from what the platform reports after each push."))
                g1, g2 = st.columns(2)
                cov = pd.DataFrame({"key": list(plan["coverage"]), "members": list(plan["coverage"].values())})
                g1.plotly_chart(px.bar(cov, x="key", y="members", title=f"Match keys of {_fmt(plan['members'])} members"),
                                width="stretch")
                if plan["held_back_reasons"]:
                    held = pd.DataFrame({"reason": [sync.describe_reason(r) for r in plan["held_back_reasons"]],
                                         "members": list(plan["held_back_reasons"].values())})
                    g2.plotly_chart(px.bar(held, x="members", y="reason", orientation="h", title="Held back, and why"),
                                    width="stretch")
                else:
                    g2.success("Nobody is held back.")
                for op, text in plan["sample_payload"].items():
                    with st.expander(f"Sample {op} request (the exact payload, first members)"):
                        st.code(text[:5000], language="json")
                pushing = running_job(ws, SYNC_JOB) is not None
                if st.button("Push now", key="act_push",
                             disabled=pushing or plan["to_add"] + plan["to_remove"] == 0):
                    st.session_state.pop("act_plan", None)
                    start_job(SYNC_JOB, f"Push of {source_labels[src]} to {dest}", user,
                              _push(plan["audience_key"], plan["mode"] == "full", schedule, holdout))
            written = sandbox.written(ws, dest, audiences.audience_key(kind, sid, dest))
            if written is not None:
                st.subheader("What the sandbox received")
                render_sandbox_panel(written, user, key="act_sandbox")

with tabs["History"]:
    if tabs["History"].open:
        hist = sync.history(ws, user)
        if hist.empty:
            st.info("No sync has run yet.")
        else:
            st.dataframe(hist, hide_index=True, width="stretch")
            reported = hist[hist["platform_report"].notna()]
            if not reported.empty:
                last = reported.iloc[0]
                st.subheader(f"Last platform report: run {last['run_id']} ({last['destination']})")
                _show_report(json.loads(last["platform_report"]))
        linked = audiences.list_audiences(ws)
        if not linked.empty:
            st.subheader("Linked audiences")
            st.dataframe(linked, hide_index=True, width="stretch")
        render_lift_panel(ws, user, source_labels)   # audiences pushed with a holdout (ui/lift_panel.py)

with tabs["Export"]:
    if tabs["Export"].open:
        if not can(user, "export"):
            st.info("Your role may not export audiences.")
        elif not sources:
            st.info("No audience to export yet.")
        else:
            src = st.selectbox("Audience", list(source_labels), format_func=source_labels.get, key="exp_source")
            default = [c for c in export.DEFAULT_COLUMNS if can(user, "view_pii") or c == "profile_id"]
            cols = st.multiselect("Columns", list(export.COLUMNS), default=default, key="exp_cols")
            e1, e2, e3 = st.columns(3)
            hash_format = e1.selectbox("Identifiers", ["plain", *export.HASH_FORMATS], key="exp_hash",
                                       help="Hash by Meta's or Google's rules, or plain SHA-256 of email/phone.")
            fmt = e2.selectbox("Format", ["csv", "parquet"], key="exp_fmt")
            enforce = e3.toggle("Only people with advertising consent", True, key="exp_consent")
            if st.button("Prepare export", key="exp_go"):
                kind, sid = audiences.parse_source(src)
                try:
                    members = audiences.members_of(ws, user, kind, sid)
                    data, out = export.export_bytes(ws, user, members, columns=cols, file_format=fmt,
                                                    hash_format=None if hash_format == "plain" else hash_format,
                                                    enforce_consent=enforce, label=audiences.source_key(kind, sid))
                except (ValueError, PermissionError) as exc:
                    st.error(md(exc))
                else:
                    st.success(f"{_fmt(out['rows'])} rows ready; {_fmt(out['held_back'])} held back.")
                    st.download_button("Download", data, file_name=f"audience.{fmt}", key="exp_download")

if "Destinations" in tabs:
    with tabs["Destinations"]:
        if tabs["Destinations"].open:
            if not dests.empty:
                st.dataframe(dests[["name", "label", "credentials", "settings"]], hide_index=True,
                             width="stretch")
            st.subheader("Add or replace a destination")
            with st.form("dest_form"):
                name = st.text_input("Name", key="dest_name")
                kind = st.selectbox("Platform", list(KINDS), format_func=lambda k: KINDS[k].label, key="dest_kind")
                cls = KINDS[kind]
                st.caption("Settings (one `key=value` a line). Needed: " + (", ".join(cls.required_settings) or "none")
                           + ". Optional: " + ", ".join(cls.optional_settings) + ". "
                           + ("Credentials (" + ", ".join(cls.secret_names) + ") go in .streamlit/secrets.toml under "
                              "[destinations.<name>], never here." if cls.secret_names else "No credentials needed."))
                text = st.text_area("Settings", key="dest_settings")
                if st.form_submit_button("Save destination"):
                    try:
                        settings = {}
                        for line in text.splitlines():
                            if line.strip():
                                k, sep, v = line.partition("=")
                                if not sep:
                                    raise ValueError(f"Write settings as key=value; got {line!r}.")
                                settings[k.strip()] = v.strip()
                        config.add_destination(ws, user, name, kind, settings, replace=True)
                    except (ValueError, PermissionError) as exc:
                        st.error(md(exc))
                    else:
                        st.success(f"Saved {md(name)}.")
                        st.rerun()
            if not dests.empty:
                gone = st.selectbox("Remove a destination", list(dests["name"]), key="dest_remove_name")
                if st.button("Remove", key="dest_remove"):
                    config.remove_destination(ws, user, gone)
                    st.rerun()
            with st.expander("Settings in use (JSON)"):
                st.json({r.name: json.loads(r.settings or "{}") for r in dests.itertuples()} if not dests.empty else {})
