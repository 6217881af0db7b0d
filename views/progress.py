"""A scan's live DAG: each step's state, times, log tail; then its findings, diff and report."""

import pandas as pd
import streamlit as st

from lib.adapters.models import AWAITING_CONFIRMATION, AWAITING_OWNERSHIP, QUEUED, Scan
from lib.core.findings import NOT_COMPARED
from lib.core.text import md_escape
from lib.core.triage import ACCEPTED_RISK, STATES, TriageError
from lib.insights.dag_figure import dag_figure
from lib.insights.progress import steps_table
from lib.insights.progress_page import findings_for, instances_for, progress_for, recent_for
from lib.insights.queue_position import queue_wait
from lib.services.ownership import instructions as ownership_instructions
from lib.services.triage import mark_finding, triage_choices
from ui.audit import note as audit
from ui.auth import viewer
from ui.runtime import get_runtime
from ui.widgets import empty_state, severity_metrics, status_label

rt = get_runtime()
st.title("Scan progress")

me = viewer()
scan_id = st.query_params.get("scan", "")
if not scan_id:
    recent = recent_for(rt.sessions, me)
    if not recent:
        empty_state("No scans yet — start one on New scan, then follow its steps here as they run.")
        st.stop()
    scan_id = st.selectbox(
        "Scan",
        [s.id for s in recent],
        format_func=lambda i: next(f"{s.id} · {s.target} · {s.status}" for s in recent if s.id == i),
    )
scan = progress_for(rt.sessions, me, scan_id)
if scan is None:
    st.error(f"There is no scan with id {md_escape(scan_id)} that you can see.")
    st.stop()
audit("viewed", scan.id)

st.markdown(f"**{md_escape(scan.target)}** · scan `{scan.id}` · requested by {md_escape(scan.requester_email)}")
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
            + (
                f" {d[NOT_COMPARED]} not compared: their scanner did not succeed last time."
                if d.get(NOT_COMPARED)
                else ""
            )
        )
    else:
        st.caption("First scan of this host: nothing to compare with yet.")
    rows = findings_for(rt.sessions, scan)
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True)
    for title, places in instances_for(rt.sessions, scan):
        with st.expander(md_escape(title)):
            st.text("\n".join(places))
    triage_form(scan)
    if scan.report_key:
        st.page_link(
            "views/reports.py",
            label="Download the report",
            query_params={"scan": scan.id},
            icon=":material/description:",
        )


def triage_form(scan: Scan) -> None:
    """Mark a finding false positive, accepted risk (reason + expiry) or fixed pending; it sticks to the host."""
    choices = triage_choices(rt.sessions, scan)
    if not choices:
        return
    with st.expander("Triage a finding"), st.form("triage"):
        pick = st.selectbox(
            "Finding",
            range(len(choices)),
            format_func=lambda i: choices[i]["title"] + (f" — {choices[i]['mark']}" if choices[i]["mark"] else ""),
        )
        state = st.radio("Mark", list(STATES), format_func=STATES.__getitem__, horizontal=True)
        reason = st.text_input("Reason")
        expires = st.date_input("Accepted until (accepted risk only)", value=None)
        if st.form_submit_button("Record"):
            c = choices[pick]
            try:
                mark = mark_finding(
                    rt.sessions,
                    me,
                    c["host"],
                    c["rule"],
                    state,
                    reason,
                    expires if state == ACCEPTED_RISK else None,
                    scan.id,
                )
                st.success(md_escape(f"Recorded: {mark.describe()}. It applies to this host's later scans."))
            except TriageError as exc:
                st.error(md_escape(str(exc)))


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
    pool = rt.settings.scan_workers if rt.mode == "embedded" else None
    if (wait := queue_wait(rt.sessions, scan_id, pool, rt.settings.limit_running)) is not None:
        st.info(md_escape(wait.message), icon=":material/hourglass_top:")
    elif current.status in (QUEUED, AWAITING_OWNERSHIP):
        st.info(f"Waiting to start: {current.status_reason or 'queued'}", icon=":material/hourglass_top:")
    elif view.message and view.finished:
        st.warning(md_escape(view.message))
    if view.error:
        st.error(md_escape(view.error), icon=":material/cloud_off:")
    for note in view.notes:
        st.info(md_escape(note))
    for m in rt.mailer.waiting(scan_id):
        st.warning(
            f"The {m.kind} email to {md_escape(m.to_addr)} is not sent yet ({m.attempts} attempt(s); last error: "
            f"{md_escape(m.last_error or 'none yet')}). It is kept and retried.",
            icon=":material/outgoing_mail:",
        )
    for d in rt.notifier.waiting(scan_id) if rt.notifier else []:
        st.warning(
            f"The {d.channel} notification is not delivered yet ({d.attempts} attempt(s); last error: "
            f"{md_escape(d.last_error or 'none yet')}). It is kept and retried.",
            icon=":material/notifications:",
        )
    st.plotly_chart(dag_figure(view), key="dag")
    st.dataframe(pd.DataFrame(steps_table(view)), hide_index=True)
    with st.expander("Step logs"):
        for n in view.nodes:
            if n.log_tail:
                st.markdown(f"**{md_escape(n.label)}**")
                st.code(n.log_tail, language=None)
    if view.finished:
        results(current)


live()
