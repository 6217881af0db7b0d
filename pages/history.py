"""Every scan: outcome, duration and findings by severity."""

import streamlit as st

from lib.history import scans_frame
from lib.repository import list_scans
from ui.runtime import get_runtime

rt = get_runtime()
st.title("History")
frame = scans_frame(list_scans(rt.sessions, limit=5000))
if frame.empty:
    st.info("No scans yet.")
    st.stop()
frame["progress"] = "/progress?scan=" + frame["scan"]
st.dataframe(frame, hide_index=True, column_config={
    "progress": st.column_config.LinkColumn("Progress", display_text="open"),
    "duration_s": st.column_config.NumberColumn("Duration (s)", format="%.1f"),
})
