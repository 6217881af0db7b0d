"""Managers' history: filters kept in the URL (shareable), KPIs, charts, the table with links, CSV export.

Thin: the numbers come from lib.insights.history_queries and history_aggregates (per-process scan facts + pandas)
and lib.insights.history_charts; this page reads the filters, caches one view per filter set for TTL_S seconds and
draws it.
"""

from datetime import timedelta

import streamlit as st

from lib.adapters.models import SCAN_STATUSES
from lib.core.findings import SEVERITIES
from lib.core.pipeline import SCANNER_LABELS, SCANNERS
from lib.insights.history_aggregates import HistoryView, history_view
from lib.insights.history_charts import history_figures
from lib.insights.history_queries import HistoryFilters, ScanFacts, export_csv
from ui.auth import viewer
from ui.runtime import get_runtime
from ui.widgets import empty_state, status_label

TTL_S = 60


def _filters(key: tuple[tuple[str, str], ...]) -> HistoryFilters:
    return HistoryFilters.from_query_params(dict(key))


@st.cache_data(ttl=TTL_S, max_entries=64, show_spinner="Reading the history…")
def _view(db_url: str, key: tuple[tuple[str, str], ...], _facts: ScanFacts) -> HistoryView:
    return history_view(_facts, _filters(key))


@st.cache_resource(ttl=TTL_S, max_entries=64, show_spinner=False)
def _figures(db_url: str, key: tuple[tuple[str, str], ...], _facts: ScanFacts) -> dict:
    """Figures are read-only once built, so all viewers of one filter set share them."""
    return history_figures(_view(db_url, key, _facts))


@st.cache_data(ttl=TTL_S, max_entries=8, show_spinner=False)
def _csv(db_url: str, key: tuple[tuple[str, str], ...]) -> bytes:
    return export_csv(get_runtime().sessions, _filters(key))


rt = get_runtime()
db_url = rt.settings.db_url
st.title("History")
facts = rt.history
if facts is None:
    st.error("History is not available: this app's runtime keeps no scan facts.")
    st.stop()
current = HistoryFilters.from_query_params(st.query_params.to_dict())

with st.container(border=True):
    c1, c2, c3 = st.columns([2, 2, 2])
    picked = c1.date_input("Requested between", value=(current.start, current.end), key="h_dates", format="YYYY-MM-DD")
    domain = c2.text_input(
        "Target domain",
        value=current.domain,
        key="h_domain",
        placeholder="example.com",
        help="The host or any subdomain of it.",
    )
    requester = c3.text_input("Requester", value=current.requester, key="h_requester", placeholder="ana@example.com")
    c4, c5 = st.columns(2)
    statuses = c4.multiselect(
        "Status",
        SCAN_STATUSES,
        default=list(current.statuses),
        key="h_status",
        format_func=status_label,
        placeholder="any status",
    )
    scanners = c5.multiselect(
        "Scanner",
        SCANNERS,
        default=list(current.scanners),
        key="h_scanner",
        format_func=lambda s: SCANNER_LABELS.get(s, s),
        placeholder="any scanner",
    )

start, end = (*tuple(picked), None, None)[:2] if isinstance(picked, (tuple, list)) else (picked, picked)
me = viewer()
filters = HistoryFilters(
    start=start or current.start,
    end=end or start or current.end,
    domain=domain,
    requester=requester,
    statuses=tuple(statuses),
    scanners=tuple(scanners),
).visible_to(me)
params = filters.to_query_params()
if params != st.query_params.to_dict():
    st.query_params.from_dict(params)  # the URL now says what is shown: copy it to share this view
key = tuple(sorted(params.items()))
view = _view(db_url, key, facts)
k = view.kpis
if k.scans == 0:
    if facts.frame().empty:
        empty_state("No scans yet — start a scan on New scan; the charts fill in as scans finish.")
    else:
        st.info("No scans match these filters — widen the dates or clear a filter.", icon=":material/filter_alt_off:")
    st.stop()

m = st.columns(5)
m[0].metric("Scans", f"{k.scans:,}")
m[1].metric(
    "Success rate",
    f"{k.success_rate:.0%}" if k.success_rate is not None else "–",
    help="Succeeded / finished (partial and failed count against it).",
)
m[2].metric("Median duration", str(timedelta(seconds=round(k.median_duration_s))) if k.median_duration_s else "–")
m[3].metric("Targets scanned", f"{k.targets:,}")
m[4].metric("Finished", f"{k.finished:,}")
st.caption("Open findings (each target's newest report)")
for col, sev in zip(st.columns(len(SEVERITIES)), SEVERITIES):
    col.metric(sev.capitalize(), f"{k.open_by_severity.get(sev, 0):,}")

figs = _figures(db_url, key, facts)
for left, right in (("per_day", "severity"), ("durations", "top_targets"), ("new_vs_fixed", "lifecycle")):
    a, b = st.columns(2)
    a.plotly_chart(figs[left], key=f"h_fig_{left}", config={"displaylogo": False})
    b.plotly_chart(figs[right], key=f"h_fig_{right}", config={"displaylogo": False})
st.subheader("Scans")
shown = len(view.rows)
st.caption(
    f"Newest {shown:,} of {k.scans:,} matching scans; the CSV has them all."
    if shown < k.scans
    else f"{k.scans:,} matching scans."
)
st.dataframe(
    view.rows,
    hide_index=True,
    key="h_table",
    column_config={
        "progress": st.column_config.LinkColumn("Progress", display_text="open"),
        "report": st.column_config.LinkColumn("Report", display_text="report"),
        "duration_s": st.column_config.NumberColumn("Duration (s)", format="%.1f"),
    },
)
st.download_button(
    "Download CSV",
    data=lambda: _csv(db_url, key),
    file_name="scanboard-history.csv",
    mime="text/csv",
    icon=":material/download:",
    on_click="ignore",
    key="h_csv",
)
if not view.duration_stats.empty:
    with st.expander("Scanner durations"):
        st.dataframe(
            view.duration_stats,
            hide_index=True,
            column_config={
                "median_s": st.column_config.NumberColumn("median (s)", format="%.0f"),
                "p90_s": st.column_config.NumberColumn("p90 (s)", format="%.0f"),
            },
        )
