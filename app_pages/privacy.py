"""Privacy: data subject requests, the request register, consent edits, retention."""
import pandas as pd
import streamlit as st

from engine.derived import refresh as refresh_derived
from engine.jobs import running_job
from engine.privacy import consent, retention
from engine.privacy.identifiers import ID_TYPES
from engine.privacy.requests import list_requests
from engine.privacy.subject import erase_subject, export_subject, find_subject
from ui.context import require_page, workspace
from ui.jobs import job_panel
from ui.jobs import start as start_job
from ui.text import md

ERASURE_JOB = "erasure"

user = require_page("privacy_requests")
st.title("Privacy")
# Lazy tabs: only the open one runs its queries.
requests_tab, register_tab, consent_tab, retention_tab = st.tabs(
    ["Access and erasure", "Request register", "Consent", "Retention"], key="privacy_tab", on_change="rerun")

def _erasure(id_type: str, value: str, regulation: str):
    """The job: erase, then bring the read tables up to date, so no screen rebuilds them."""
    def work(progress):
        progress(0.0, "Erasing and compacting the workspace")
        report = erase_subject(workspace(), user, id_type, value, regulation)
        refresh_derived(workspace(), progress=lambda f, m: progress(0.9 + 0.1 * f, m))
        return report
    return work


def _erased(report: dict) -> str:
    lists = ("files", "destinations", "not_reachable")
    counts = ", ".join(f"{k}: {v}" for k, v in report.items() if k not in lists and k != "request_id")
    return f"Erasure request {report['request_id']} done ({counts or 'nothing held'})."


def _erasure_details(report: dict) -> None:
    if report["destinations"]:
        st.caption("Destinations")
        st.dataframe(pd.DataFrame(report["destinations"]), hide_index=True)
        if any(d["status"] != "done" for d in report["destinations"]):
            st.error("Some destinations did not confirm the deletion; it stays queued: retry with "
                     "`cdp privacy removals --retry`.")
    if report["files"]:
        st.caption("Files under the workspace folder")
        st.dataframe(pd.DataFrame(report["files"]), hide_index=True)
    if report["not_reachable"]:
        st.warning("Copies the product cannot reach (delete them where they are):")
        st.dataframe(pd.DataFrame(report["not_reachable"]), hide_index=True)


with requests_tab:
    if requests_tab.open:
        c1, c2, c3 = st.columns([1, 2, 1])
        id_type = c1.selectbox("Identifier", ID_TYPES, key="dsr_type")
        value = c2.text_input("Value", key="dsr_value", placeholder="jane@example.com")
        regulation = c3.selectbox("Regulation", ["gdpr", "ccpa"], key="dsr_reg",
                                  format_func=lambda r: {"gdpr": "GDPR (1 month)", "ccpa": "CCPA (45 days)"}[r])
        if value.strip():
            try:
                subject = find_subject(workspace(), user, id_type, value)
            except ValueError as exc:
                st.error(md(exc))
                subject = None
            if subject is not None and not subject.found:
                st.info("Nothing is held about this identifier.")
            elif subject is not None:
                st.success(f"Found {len(subject.profile_ids)} profile(s) and {len(subject.records)} source record(s).")
                st.dataframe(subject.records.groupby("kind").size().rename("records").reset_index(), hide_index=True)
                a, b = st.columns(2)
                if a.button("Prepare access archive", icon=":material/folder_zip:"):
                    st.session_state["dsr_archive"] = export_subject(workspace(), user, id_type, value, regulation)
                if st.session_state.get("dsr_archive"):
                    a.download_button("Download archive (JSON + CSV)", st.session_state["dsr_archive"],
                                      file_name="subject_access_export.zip", mime="application/zip")

                if b.button("Erase…", icon=":material/delete_forever:"):
                    st.session_state["dsr_confirm"] = True
                if st.session_state.get("dsr_confirm"):
                    with st.container(border=True):
                        st.warning("Erasing deletes this person from every table and from the files under the "
                                   "workspace folder, suppresses their identifiers so they do not come back, and "
                                   "asks every destination they were sent to to delete them, now. "
                                   "This cannot be undone.")
                        typed = st.text_input("Type ERASE to confirm", key="dsr_typed")
                        go, cancel = st.columns(2)
                        erasing = running_job(workspace(), ERASURE_JOB) is not None
                        if go.button("Erase", type="primary", disabled=typed != "ERASE" or erasing):
                            for key in ("dsr_confirm", "dsr_typed", "dsr_archive"):
                                st.session_state.pop(key, None)
                            # The title names no identifier: everyone on this screen sees the job.
                            start_job(ERASURE_JOB, f"Erasure ({regulation.upper()})", user,
                                      _erasure(id_type, value, regulation))
                        if cancel.button("Cancel"):
                            st.session_state.pop("dsr_confirm", None)
                            st.rerun()
        # The latest erasure, running or finished, for whoever opens the screen.
        job_panel(ERASURE_JOB, _erased, ok=lambda report: all(d["status"] == "done" for d in report["destinations"]),
                  details=_erasure_details)

with register_tab:
    if register_tab.open:
        register = list_requests(workspace(), user)
        if register.empty:
            st.caption("No requests yet.")
        else:
            overdue = register[(register.status == "open") & (register.days_left < 0)]
            if not overdue.empty:
                st.error(f"{len(overdue)} open request(s) past their legal deadline.")
            st.dataframe(register, hide_index=True, width="stretch")

with consent_tab:
    if consent_tab.open:
        profile_id = st.text_input("Profile id", key="consent_profile")
        if profile_id.strip():
            state = consent.consent_state(workspace(), profile_id.strip())
            st.dataframe(state, hide_index=True)
            with st.form("consent_edit"):
                purpose = st.selectbox("Purpose", consent.PURPOSES)
                decision = st.radio("Decision", ["grant", "withdraw"], horizontal=True)
                note = st.text_input("Note (how the person told us)")
                if st.form_submit_button("Record consent"):
                    try:
                        consent.set_consent(workspace(), user, profile_id.strip(), purpose, decision == "grant", note)
                        st.success("Recorded.")
                        st.rerun()
                    except ValueError as exc:
                        st.error(md(exc))
            st.subheader("History")
            st.dataframe(consent.consent_history(workspace(), profile_id.strip()), hide_index=True)

with retention_tab:
    if retention_tab.open:
        policy = retention.get_policy(workspace())
        with st.form("retention_policy"):
            events_days = st.number_input("Keep events for (days)", 1, 36500, policy["events_days"])
            files_days = st.number_input("Keep raw files for (days)", 1, 36500, policy["raw_files_days"])
            if st.form_submit_button("Save policy"):
                retention.set_policy(workspace(), user, int(events_days), int(files_days))
                st.rerun()
        preview = retention.preview(workspace())
        st.metric("Events past retention", f"{preview['events_to_delete']:,}")
        st.metric("Raw files past retention", f"{preview['raw_files_to_delete']:,}")
        if st.button("Purge now", disabled=not (preview["events_to_delete"] or preview["raw_files_to_delete"])):
            st.success(f"Purged: {md(retention.apply(workspace(), user))}")
