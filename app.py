"""scanboard: the entry point. It only routes (st.navigation, per the viewer's roles) and draws the sidebar."""

import streamlit as st

from lib.core.roles import visible_pages
from ui.auth import resolve_viewer
from ui.runtime import get_runtime

st.set_page_config(page_title="scanboard", page_icon=":material/shield:", layout="wide")
runtime = get_runtime()
viewer = resolve_viewer(runtime.settings)

# The confirmation link's page is reachable by everyone: its token is the proof.
confirm = st.Page(
    "views/confirm.py", title="Confirm", icon=":material/verified:", url_path="confirm", visibility="hidden"
)
if viewer is None:
    st.navigation(
        [st.Page("views/sign_in.py", title="Sign in", icon=":material/login:", default=True), confirm],
        position="hidden",
    ).run()
    st.stop()

PAGES = {  # key -> (file, title, icon)
    "new_scan": ("views/new_scan.py", "New scan", ":material/add_circle:"),
    "progress": ("views/progress.py", "Progress", ":material/account_tree:"),
    "reports": ("views/reports.py", "Reports", ":material/description:"),
    "outbox": ("views/outbox.py", "Outbox", ":material/mail:"),
    "schedules": ("views/schedules.py", "Schedules", ":material/event_repeat:"),
    "history": ("views/history.py", "History", ":material/bar_chart:"),
    "cluster": ("views/cluster.py", "Cluster", ":material/dns:"),
}
SECTIONS = {"Scans": ("new_scan", "progress", "reports", "schedules", "outbox"), "Insights": ("history", "cluster")}
allowed = visible_pages(viewer) - (set() if runtime.mailer.uses_outbox else {"outbox"})
default = next(k for keys in SECTIONS.values() for k in keys if k in allowed)
nav = {
    title: [
        st.Page(PAGES[k][0], title=PAGES[k][1], icon=PAGES[k][2], url_path=k, default=k == default)
        for k in keys
        if k in allowed
    ]
    for title, keys in SECTIONS.items()
}
nav = {title: pages for title, pages in nav.items() if pages}
nav[next(iter(nav))].append(confirm)
page = st.navigation(nav)

with st.sidebar:
    mode = runtime.settings.scanboard_mode
    st.caption(f"Mode: **{mode}** · " + ("scans run on this machine" if mode == "embedded" else "scans run on Argo"))
    if viewer.local:
        st.caption("No sign-in: one local user with every role.")
    else:
        st.caption(f"Signed in as {viewer.email} · {', '.join(sorted(viewer.roles)) or 'no role'}")
        if st.button("Sign out", icon=":material/logout:"):
            st.logout()
page.run()
