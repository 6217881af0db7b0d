"""Where scans run: the local worker pool in embedded mode."""

import streamlit as st

from ui.runtime import get_runtime

rt = get_runtime()
st.title("Cluster")
if rt.mode == "embedded":
    st.info("No Kubernetes cluster is configured: scans run in this app's local worker pool.", icon=":material/info:")

    @st.fragment(run_every=3)
    def pool() -> None:
        stats = rt.engine.stats()
        c1, c2, c3 = st.columns(3)
        c1.metric("Workers busy", stats.busy)
        c2.metric("Workers idle", stats.workers - stats.busy)
        c3.metric("Scans queued", stats.queued)

    pool()
