"""Sources: upload files with a confirmed mapping, see loads and their freshness, the quarantine,
and (when the collector is installed) the events collector panel."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import plotly.express as px
import streamlit as st

from engine.access import audit, can, mask_frame
from engine.access.csv_safe import safe_csv
from engine.derived import refresh as refresh_derived
from engine.ingest import IngestError, ingest_file, suggest_for_file
from engine.ingest.fields import RECORD_ID, extra_fields_for, fields_for
from engine.ingest.landing import keep_upload
from engine.ingest.load import ingest_workbook
from engine.ingest.quarantine import quarantined_rows, recent_loads, source_freshness
from engine.ingest.readers import FORMATS, sheet_names
from engine.ingest.shapes import recognise
from engine.jobs import running_job
from engine.sources import KINDS, SourceError, list_sources
from engine.workspace import WorkspaceError
from ui.context import cached_query, require_page, workspace
from ui.jobs import job_panel
from ui.jobs import start as start_job
from ui.text import md, plain

user = require_page("view")
ws = workspace()
st.title("Sources")
st.caption("Bring in exports (CRM, point of sale, billing, spreadsheets) and website events. "
           "Every row is loaded or quarantined with a reason; nothing is silently dropped.")

UPLOAD_TYPES = ["csv", "tsv", "txt", "xlsx", "json", "ndjson", "jsonl", "parquet"]
TRAIT = "(keep as custom trait)"
ALL_SHEETS = "All sheets"
UPLOAD_JOB = "upload"
KIND_HELP = {
    "contacts": "people from a CRM: leads and customers, with lead stage, owner, deal value",
    "orders": "purchases online or at the till; needs an order date and an amount",
    "subscriptions": "plans, payments and cancellations",
    "consents": "consent given or withdrawn, per person and purpose",
    "events": "Segment-spec events (identify, track, page ...) as JSON/NDJSON, or a flat event file",
}


def _landing_path(uploaded) -> str:
    """The upload written once under the workspace with a generated name (never its own name)."""
    key = f"upload_path_{uploaded.file_id}"
    if key not in st.session_state:
        try:
            st.session_state[key] = str(keep_upload(ws, uploaded.getvalue()))
        except WorkspaceError as exc:
            st.error(f"The upload could not be kept: {exc}")
            st.stop()
    return st.session_state[key]


def _mapping_frame(suggestions) -> pd.DataFrame:
    return pd.DataFrame([{
        "column": s.column,
        "example": None if s.example is None else str(s.example)[:60],
        "field": s.field or TRAIT,
        "confidence": s.confidence / 100,
        "why": s.why,
    } for s in suggestions])


def _upload_section() -> None:
    if not can(user, "ingest"):
        st.info("Your role can look at sources but not upload files.")
        return
    sources = list_sources(ws)
    left, right = st.columns(2)
    kind = left.selectbox("Kind of data", KINDS, index=KINDS.index("contacts"), key="src_kind",
                          help="; ".join(f"{k}: {v}" for k, v in KIND_HELP.items()))
    existing = sorted(sources.loc[sources["kind"] == kind, "name"]) if not sources.empty else []
    choice = right.selectbox("Source", existing + ["New source…"], key="src_choice")
    if choice == "New source…":
        source = right.text_input("New source name", key="src_new_name",
                                  placeholder="e.g. HubSpot, Store POS, Stripe").strip()
    else:
        source = choice
    st.caption(KIND_HELP[kind])
    uploaded = st.file_uploader("File", type=UPLOAD_TYPES, key="src_file",
                                help="CSV/TSV (any delimiter, UTF-8 or Windows-1252), Excel .xlsx, "
                                     "JSON, NDJSON or Parquet")
    if uploaded is None:
        return
    fmt = st.selectbox("Format", ["auto-detect", *FORMATS], key="src_format",
                       help="Detected from the content; override if it guessed wrong.")
    file_format = None if fmt == "auto-detect" else fmt
    path = _landing_path(uploaded)
    sheet = _sheet_picker(uploaded, path, file_format)
    if sheet == ALL_SHEETS:
        _load_all_sheets(uploaded, path, kind, source, file_format)
        return
    # Reading and profiling a big file takes a moment: do it once per file, kind, source and format.
    cache_key = ("src_suggest", uploaded.file_id, kind, source, file_format, sheet, ws.data_version())
    if st.session_state.get("src_suggest_key") != cache_key:
        try:
            with st.spinner("Reading the file…"):
                st.session_state["src_suggest_value"] = suggest_for_file(
                    ws, user, kind, path, source or None, file_format=file_format, sheet=sheet)
        except (IngestError, ValueError) as exc:
            st.session_state.pop("src_suggest_key", None)
            st.error(f"This file cannot be loaded: {md(exc)}")
            return
        st.session_state["src_suggest_key"] = cache_key
    info, preview, suggestions, rows = st.session_state["src_suggest_value"]
    size = f"{rows:,} rows" if rows is not None else "a large file: mapped from its first rows, counted as it loads"
    st.markdown(f"**Detected:** {md(info.describe())} · {size}")
    st.dataframe(mask_frame(preview, user), hide_index=True, height=min(38 * (len(preview) + 1), 300))

    mapping = None
    id_column = None
    if suggestions:
        st.subheader("Mapping")
        shape = recognise(list(preview.columns), kind)
        if shape is not None:
            st.caption(f"Recognised: {md(shape.name)} export; its columns are mapped as the tool means them.")
        st.caption("Check the suggested field for each column; columns you do not map are kept as "
                   "custom traits. Choose source_record_id for the column holding the source's own id.")
        options = [TRAIT, RECORD_ID, *fields_for(kind), *extra_fields_for(kind)]
        edited = st.data_editor(
            _mapping_frame(suggestions), hide_index=True, key=f"map_{uploaded.file_id}_{kind}",
            disabled=["column", "example", "confidence", "why"],
            column_config={
                "field": st.column_config.SelectboxColumn("field", options=options, required=True),
                "confidence": st.column_config.ProgressColumn("confidence", min_value=0, max_value=1,
                                                              format="percent"),
            })
        mapping = {row.column: (None if row.field == TRAIT else row.field) for row in edited.itertuples()}
        ids = [c for c, f in mapping.items() if f == RECORD_ID]
        id_column = ids[0] if ids else None
        if not id_column and shape is not None and shape.record_id:
            st.caption(f"Record id: the column {md(shape.record_id)} ({md(shape.name)}'s own id).")
        elif not id_column:
            st.caption("No id column: each row is identified by its content, so an identical re-upload "
                       "changes nothing, but an edited row arrives as a new record.")

    def load(progress) -> list:
        return [ingest_file(ws, user, kind, path, source, id_column=id_column, mapping=mapping,
                            file_format=file_format, file_name=uploaded.name, sheet=sheet, progress=progress)]

    if st.button("Load", type="primary", key="src_load", disabled=not source or _loading()):
        if _in_background(uploaded, path, source, load):
            return
        bar = st.progress(0.0, text="Starting…")
        try:
            results = load(lambda f, m="": bar.progress(min(max(f, 0.0), 1.0), text=m))
        except (IngestError, SourceError, ValueError, WorkspaceError) as exc:
            bar.empty()
            st.error(f"Nothing was loaded: {md(exc)}")
            return
        _loaded(uploaded, results)
    if not source:
        st.caption("Name the source to load the file.")


def _sheet_picker(uploaded, path: str, file_format: str | None) -> str | None:
    """For a workbook of several sheets: which one to load (or all of them); None otherwise."""
    if file_format not in (None, "xlsx") or (file_format is None and not uploaded.name.lower().endswith(".xlsx")):
        return None
    key = f"src_sheets_{uploaded.file_id}"
    if key not in st.session_state:
        try:
            st.session_state[key] = sheet_names(path)
        except IngestError:
            st.session_state[key] = []   # not a workbook after all: the reader says why below
    sheets = st.session_state[key]
    if len(sheets) < 2:
        return None
    return st.selectbox("Sheet", [*sheets, ALL_SHEETS], key="src_sheet",
                        help="The workbook has several sheets: load one, or every sheet (each mapped by "
                             "its own header).")


def _load_all_sheets(uploaded, path: str, kind: str, source: str, file_format: str | None) -> None:
    st.caption("Every sheet is loaded with its suggested mapping (or the source's saved one), "
               "as if uploaded one by one.")
    def load(progress=None) -> list:
        return ingest_workbook(ws, user, kind, path, source, file_format=file_format, file_name=uploaded.name)

    if st.button("Load all sheets", type="primary", key="src_load_all", disabled=not source or _loading()):
        if _in_background(uploaded, path, source, load):
            return
        try:
            with st.spinner("Loading every sheet…"):
                results = load()
        except (IngestError, SourceError, ValueError, WorkspaceError) as exc:
            st.error(f"Not every sheet was loaded: {md(exc)}")
            return
        _loaded(uploaded, results)
    if not source:
        st.caption("Name the source to load the file.")


def upload_job_bytes() -> int:
    """Uploads at least this big load as a background job ($CDP_UPLOAD_JOB_MB, default 20 MB)."""
    return int(float(os.environ.get("CDP_UPLOAD_JOB_MB", "20")) * 1_000_000)


def _loading() -> bool:
    return running_job(ws, UPLOAD_JOB) is not None


def _in_background(uploaded, path: str, source: str, load) -> bool:
    """A big file loads as a job (it goes on when the tab is closed; anyone opening Sources sees
    how it went): True when started. `load(progress)` returns the LoadResults."""
    if uploaded.size < upload_job_bytes():
        return False

    def work(progress):
        results = load(lambda f, m="": progress(0.9 * min(max(f, 0.0), 1.0), m))
        refresh_derived(ws, progress=lambda f, m: progress(0.9 + 0.1 * f, m))
        Path(path).unlink(missing_ok=True)   # the load kept its own copy under landing/
        return [r.as_dict() for r in results]
    st.session_state.pop(f"upload_path_{uploaded.file_id}", None)
    start_job(UPLOAD_JOB, f"Load of {uploaded.name} into {source}", user, work)
    return True


def _uploaded(results: list) -> str:
    loaded = sum(r["rows_loaded"] for r in results)
    return f"Loaded {loaded:,} of {sum(r['rows_read'] for r in results):,} rows"


def _loaded(uploaded, results) -> None:
    bar = st.progress(0.0, text="Updating what the other screens read")
    refresh_derived(ws, progress=lambda f, m: bar.progress(min(max(f, 0.0), 1.0), text=m))
    bar.empty()
    st.session_state["src_last_results"] = [r.as_dict() for r in results]
    # The load kept its own copy under landing/; the incoming copy is no longer needed.
    Path(st.session_state.pop(f"upload_path_{uploaded.file_id}")).unlink(missing_ok=True)


def _last_result() -> None:
    for result in st.session_state.get("src_last_results", []):
        _show_result(result)


def _show_result(result: dict) -> None:
    if result["already_loaded"]:
        st.info(md(result["warnings"][0]))
        return
    where = f" (sheet {md(result['sheet'])})" if result.get("sheet") else ""
    st.success(f"Loaded into {md(result['source'])}{where}: {result['rows_loaded']:,} of "
               f"{result['rows_read']:,} rows.")
    a, b, c, d = st.columns(4)
    a.metric("Rows read", f"{result['rows_read']:,}")
    b.metric("Loaded", f"{result['rows_loaded']:,}",
             help=f"{result['rows_inserted']:,} new, {result['rows_updated']:,} updated, "
                  f"{result['rows_unchanged']:,} unchanged")
    c.metric("Quarantined", f"{result['rows_quarantined']:,}")
    d.metric("New / updated", f"{result['rows_inserted']:,} / {result['rows_updated']:,}")
    for warning in result["warnings"]:
        st.warning(md(warning))


def _sources_section() -> None:
    fresh = cached_query(source_freshness)
    if fresh.empty:
        st.info("No sources yet. Upload a file above, or create an events source for the collector.")
        return
    st.subheader("Sources")
    st.dataframe(fresh.drop(columns=["description"]), hide_index=True, column_config={
        "hours_since": st.column_config.NumberColumn("hours since last data", format="%.1f"),
        "last_data": st.column_config.DatetimeColumn("last data"),
    })
    loads = cached_query(recent_loads, 50)
    if loads.empty:
        return
    st.subheader("Recent loads")
    chart = loads.head(20).melt(id_vars=["load_id", "source"], value_vars=["rows_loaded", "rows_quarantined"],
                                var_name="fate", value_name="rows")
    chart["load"] = chart["source"].map(plain) + " #" + chart["load_id"].astype(str)
    fig = px.bar(chart, x="load", y="rows", color="fate", barmode="stack",
                 color_discrete_map={"rows_loaded": "#2e7d32", "rows_quarantined": "#c62828"})
    fig.update_layout(height=280, margin=dict(l=0, r=0, t=10, b=0), xaxis_title=None)
    st.plotly_chart(fig, width="stretch")
    st.dataframe(loads, hide_index=True)


def _audit_download(source) -> None:
    with ws.transaction() as con:
        audit(con, user, "quarantine.export", source, {"via": "sources screen"})


def _quarantine_section() -> None:
    counts = ws.query_df("SELECT source, count(*) AS rows FROM quarantine GROUP BY source ORDER BY source")
    if counts.empty:
        st.info("The quarantine is empty: every row read so far was loaded.")
        return
    options = ["All sources", *counts["source"].dropna().tolist()]
    picked = st.selectbox("Source", options, key="q_source")
    source = None if picked == "All sources" else picked
    rows = quarantined_rows(ws, user, source=source, limit=1000)
    st.caption(f"{int(counts['rows'].sum()):,} rows in quarantine; showing the newest {len(rows):,}.")
    st.dataframe(rows, hide_index=True)
    if can(user, "export"):
        full = quarantined_rows(ws, user, source=source, limit=None)
        st.download_button("Download quarantine (CSV)", safe_csv(full).encode(),
                           file_name="quarantine.csv", mime="text/csv", key="q_download",
                           on_click=_audit_download, args=(source,))


def _events_section() -> None:
    try:
        from ui.collector_panel import render_collector_panel
    except ImportError:
        render_collector_panel = None
    if render_collector_panel is not None:
        render_collector_panel(user)
        return
    st.info("The event collector is not installed in this build. Events can still be uploaded "
            "as JSON or NDJSON files above (kind: events).")


def _upload_and_result() -> None:
    # The latest big upload (a background job), running or finished, for whoever opens the screen.
    job_panel(UPLOAD_JOB, _uploaded, details=lambda results: [_show_result(r) for r in results])
    _upload_section()
    _last_result()


# Lazy tabs: only the open one runs its queries.
tabs = st.tabs(["Upload a file", "Sources and loads", "Quarantine", "Events collector"], key="sources_tab",
               on_change="rerun")
for tab, render in zip(tabs, (_upload_and_result, _sources_section, _quarantine_section, _events_section)):
    with tab:
        if tab.open:
            render()
