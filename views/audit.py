"""Managers' audit log: who requested, confirmed, viewed and downloaded which scan, and sign-ins; filterable,
exportable as CSV."""

from datetime import timedelta

import streamlit as st

from lib.adapters.audit import ACTIONS, AuditFilters, events, export_csv
from lib.adapters.models import utcnow
from ui.runtime import get_runtime

rt = get_runtime()
st.title("Audit log")
st.caption("Append-only: every request, confirmation, view, download and sign-in, newest first.")
today = utcnow().date()
c1, c2, c3, c4 = st.columns([2, 2, 2, 2])
picked = c1.date_input("Between", value=(today - timedelta(days=30), today), key="a_dates", format="YYYY-MM-DD")
actor = c2.text_input("Who", key="a_actor", placeholder="ana@example.com")
action = c3.selectbox("Action", ("", *ACTIONS), key="a_action", format_func=lambda a: a or "any action")
scan_id = c4.text_input("Scan", key="a_scan", placeholder="scan id")
start, end = (*tuple(picked), None, None)[:2] if isinstance(picked, (tuple, list)) else (picked, picked)
filters = AuditFilters(actor=actor, action=action, scan_id=scan_id, start=start, end=end or start)
rows = events(rt.sessions, filters)
if not rows:
    st.info(
        "No audit events match these filters — widen the dates or clear a filter; requests, confirmations and "
        "downloads are recorded as they happen.",
        icon=":material/info:",
    )
    st.stop()
st.dataframe(rows, hide_index=True, key="a_table")
st.download_button(
    "Download CSV",
    data=export_csv(rt.sessions, filters),
    file_name="scanboard-audit.csv",
    mime="text/csv",
    icon=":material/download:",
    on_click="ignore",
    key="a_csv",
)
