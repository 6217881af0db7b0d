"""Stored reports, newest first, with downloads."""

import streamlit as st

from lib.core.text import md_escape
from lib.insights.reports_view import report_groups
from lib.services.visibility import visible_reports
from ui.audit import note
from ui.auth import viewer
from ui.runtime import get_runtime
from ui.widgets import empty_state

rt = get_runtime()
st.title("Reports")
only = st.query_params.get("scan", "")
me = viewer()
groups = visible_reports(rt.sessions, me, report_groups(rt.store.list_reports(), only))
if not groups and only:
    st.info(
        f"No stored report for scan {md_escape(only)} yet: it appears here when the scan finishes.",
        icon=":material/info:",
    )
elif not groups:
    empty_state("No reports yet — start a scan on New scan; its report appears here when it finishes.")
for g in groups:
    with st.container(border=True):
        st.markdown(f"**Scan `{g.scan_id}`** · {g.modified:%Y-%m-%d %H:%M} UTC")
        cols = st.columns(len(g.files))
        for col, f in zip(cols, g.files):
            with col:
                if rt.store.direct_links:  # S3: a presigned URL, made fresh on every visit
                    note("downloaded", g.scan_id, f"{f.name}: presigned link issued")
                    st.link_button(f"{f.name} ({f.size // 1024 + 1} KB)", rt.store.link(g.scan_id, f.name))
                    continue
                st.download_button(
                    f"{f.name} ({f.size // 1024 + 1} KB)",
                    data=rt.store.read(g.scan_id, f.name),
                    file_name=f"scanboard-{g.scan_id}-{f.name}",
                    mime=f.mime,
                    key=f"dl-{g.scan_id}-{f.name}",
                    on_click=note,
                    args=("downloaded", g.scan_id, f.name),
                    kwargs={"once": False},
                )
