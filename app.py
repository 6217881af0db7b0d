"""scanboard: the entry point. It only routes (st.navigation) and draws the shared sidebar."""

import streamlit as st

from ui.runtime import get_runtime

st.set_page_config(page_title="scanboard", page_icon=":material/shield:", layout="wide")
runtime = get_runtime()

scans = [
    st.Page("pages/new_scan.py", title="New scan", icon=":material/add_circle:", default=True),
    st.Page("pages/progress.py", title="Progress", icon=":material/account_tree:", url_path="progress"),
    st.Page("pages/reports.py", title="Reports", icon=":material/description:", url_path="reports"),
]
if runtime.mailer.uses_outbox:
    scans.append(st.Page("pages/outbox.py", title="Outbox", icon=":material/mail:", url_path="outbox"))
insights = [
    st.Page("pages/history.py", title="History", icon=":material/bar_chart:", url_path="history"),
    st.Page("pages/cluster.py", title="Cluster", icon=":material/dns:", url_path="cluster"),
]
hidden = [st.Page("pages/confirm.py", title="Confirm", icon=":material/verified:", url_path="confirm", visibility="hidden")]

page = st.navigation({"Scans": scans + hidden, "Insights": insights})
with st.sidebar:
    mode = runtime.settings.scanboard_mode
    st.caption(f"Mode: **{mode}** · " + ("scans run on this machine" if mode == "embedded" else "scans run on Argo"))
    if mode == "embedded":
        st.caption("No sign-in: one local user.")
page.run()
