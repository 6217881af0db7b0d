"""The link from the confirmation email: use the token once, start the scan, go to its progress."""

import streamlit as st

from lib.intake import confirm
from ui.runtime import get_runtime

rt = get_runtime()
st.title("Confirm scan")
outcome = confirm(rt, st.query_params.get("token", ""))
if outcome.ok:
    st.switch_page("pages/progress.py", query_params={"scan": outcome.scan_id})
elif outcome.status == "already":
    st.info(f"Already confirmed: {outcome.message}", icon=":material/check_circle:")
    st.page_link("pages/progress.py", label=f"See the progress of scan {outcome.scan_id}",
                 query_params={"scan": outcome.scan_id}, icon=":material/account_tree:")
elif outcome.status == "busy":
    st.warning(outcome.message, icon=":material/hourglass_top:")
elif outcome.status == "expired":
    st.warning(outcome.message, icon=":material/timer_off:")
    st.page_link("pages/new_scan.py", label="Request the scan again", icon=":material/add_circle:")
else:
    st.error(outcome.message, icon=":material/block:")
    st.page_link("pages/new_scan.py", label="Request a scan", icon=":material/add_circle:")
