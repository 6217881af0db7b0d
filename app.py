"""scanboard: the entry point. It only routes (st.navigation, per the viewer's roles) and draws the sidebar."""

import streamlit as st

from lib.core.roles import visible_pages
from lib.core.text import md_escape
from ui.auth import resolve_viewer
from ui.pages import CONFIRM, PAGES, SECTIONS, SIGN_IN
from ui.runtime import runtime_or_stop

st.set_page_config(page_title="scanboard", page_icon=":material/shield:", layout="wide")
runtime = runtime_or_stop()
viewer = resolve_viewer(runtime.settings)

# The confirmation link's page is reachable by everyone: its token is the proof.
confirm = st.Page(CONFIRM.file, title=CONFIRM.title, icon=CONFIRM.icon, url_path="confirm", visibility="hidden")
if viewer is None:
    st.navigation(
        [st.Page(SIGN_IN.file, title=SIGN_IN.title, icon=SIGN_IN.icon, default=True), confirm],
        position="hidden",
    ).run()
    st.stop()

allowed = visible_pages(viewer) - (set() if runtime.mailer.uses_outbox else {"outbox"})
default = next(k for keys in SECTIONS.values() for k in keys if k in allowed)
nav = {
    title: [
        st.Page(PAGES[k].file, title=PAGES[k].title, icon=PAGES[k].icon, url_path=k, default=k == default)
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
        st.caption(f"Signed in as {md_escape(viewer.email)} · {', '.join(sorted(viewer.roles)) or 'no role'}")
        if st.button("Sign out", icon=":material/logout:"):
            st.logout()
page.run()
