"""A scan's live DAG: each step's state, times, log tail; then its findings, diff and report."""

import pandas as pd
import streamlit as st

from lib.adapters.models import AWAITING_CONFIRMATION, AWAITING_OWNERSHIP, QUEUED, Scan
from lib.insights.dag_figure import dag_figure
from lib.insights.progress import queue_position, steps_table, why_waiting
from lib.insights.progress_page import findings_for, progress_for, recent_for
from lib.services.ownership import instructions as ownership_instructions
from ui.auth import viewer
from ui.runtime import get_runtime
from ui.widgets import severity_metrics, status_label

rt = get_runtime()
st.title("Scan progress")

me = viewer()
scan_id = st.query_params.get("scan", "")
if not scan_id:
    recent = recent_for(rt.sessions, me)
    if not recent:
        st.info("No scans yet.")
        st.page_link("views/new_scan.py", label="Request a scan", icon=":material/add_circle:")
        st.stop()
    scan_id = st.selectbox(
        "Scan",
        [s.id for s in recent],
        format_func=lambda i: next(f"{s.id} · {s.target} · {s.status}" for s in recent if s.id == i),
    )
scan = progress_for(rt.sessions, me, scan_id)
if scan is None:
    st.error(f"There is no scan with id {scan_id!r} that you can see.")
    st.stop()

st.markdown(f"**{scan.target}** · scan `{scan.id}` · requested by {scan.requester_email}")
if scan.status == AWAITING_CONFIRMATION:
    st.info("Waiting for confirmation: open the link in the email to start this scan.", icon=":material/mail:")
elif scan.status == AWAITING_OWNERSHIP:
    st.warning("Waiting for the proof that you control this target.", icon=":material/verified_user:")
    st.code(ownership_instructions(scan.target, scan.ownership_token), language=None)
first = rt.engine.progress(scan_id)


def results(scan: Scan) -> None:
    """Findings, diff and the report link of a finished scan."""
    st.subheader("Findings")
    severity_metrics(scan.severity_counts or {})
    if scan.diff_counts:
        d = scan.diff_counts
        st.caption(
            f"Since the previous scan of this host: {d.get('new', 0)} new, {d.get('fixed', 0)} fixed, "
            f"{d.get('unchanged', 0)} unchanged."
        )
    else:
        st.caption("First scan of this host: nothing to compare with yet.")
    rows = findings_for(rt.sessions, scan)
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True)
    if scan.report_key:
        st.page_link(
            "views/reports.py",
            label="Download the report",
            query_params={"scan": scan.id},
            icon=":material/description:",
        )


# Refreshes every 2 s while the scan runs; a page opened on a finished scan does not poll.
@st.fragment(run_every=2 if not first.finished else None)
def live() -> None:
    view = rt.engine.progress(scan_id)
    current = progress_for(rt.sessions, me, scan_id)
    if current is None:
        st.error(f"The scan {scan_id!r} is no longer in the database.")
        return
    done, total = view.progress
    st.progress(done / total if total else 0.0, text=f"{status_label(current.status)} · {done}/{total} steps")
    if current.status in (QUEUED, AWAITING_OWNERSHIP):
        pool = rt.engine.stats()  # workers is 0 in argo mode: the cluster's pods are the capacity
        workers, busy = (pool.workers, pool.busy) if pool.workers else (None, None)
        reason = why_waiting(current, queue_position(rt.sessions, current), workers, busy)
        st.info(reason, icon=":material/hourglass_top:")
    elif view.message and view.finished:
        st.warning(view.message)
    if view.error:
        st.error(view.error, icon=":material/cloud_off:")
    for note in view.notes:
        st.info(note)
    for m in rt.mailer.waiting(scan_id):
        st.warning(
            f"The {m.kind} email to {m.to_addr} is not sent yet ({m.attempts} attempt(s); last error: "
            f"{m.last_error or 'none yet'}). It is kept and retried.",
            icon=":material/outgoing_mail:",
        )
    for d in rt.notifier.waiting(scan_id) if rt.notifier else []:
        st.warning(
            f"The {d.channel} notification is not delivered yet ({d.attempts} attempt(s); last error: "
            f"{d.last_error or 'none yet'}). It is kept and retried.",
            icon=":material/notifications:",
        )
    st.plotly_chart(dag_figure(view), key="dag")
    st.dataframe(pd.DataFrame(steps_table(view)), hide_index=True)
    with st.expander("Step logs"):
        for n in view.nodes:
            if n.log_tail:
                st.markdown(f"**{n.label}**")
                st.code(n.log_tail, language=None)
    if view.finished:
        results(current)


live()
