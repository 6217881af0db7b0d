"""The link from the confirmation email: use the token once, start the scan, go to its progress.

Reachable signed out (its token is the proof); links to other pages are drawn only when this viewer has them.
"""

import streamlit as st

from lib.core.text import md_escape
from lib.services.intake import confirm
from ui.auth import can_open
from ui.runtime import get_runtime

rt = get_runtime()
st.title("Confirm scan")
outcome = confirm(rt, st.query_params.get("token", ""))
if outcome.ok and can_open("progress"):
    st.switch_page("views/progress.py", query_params={"scan": outcome.scan_id})
elif outcome.ok:
    st.success(
        f"{md_escape(outcome.message)} Scan {outcome.scan_id}: the report link will be emailed to you; "
        "sign in to follow it live.",
        icon=":material/check_circle:",
    )
elif outcome.status == "already":
    st.info(f"Already confirmed: {md_escape(outcome.message)}", icon=":material/check_circle:")
    if can_open("progress"):
        st.page_link(
            "views/progress.py",
            label=f"See the progress of scan {outcome.scan_id}",
            query_params={"scan": outcome.scan_id},
            icon=":material/account_tree:",
        )
elif outcome.status == "busy":
    st.warning(md_escape(outcome.message), icon=":material/hourglass_top:")
else:
    (st.warning if outcome.status == "expired" else st.error)(md_escape(outcome.message), icon=":material/block:")
    if can_open("new_scan"):
        label = "Request the scan again" if outcome.status == "expired" else "Request a scan"
        st.page_link("views/new_scan.py", label=label, icon=":material/add_circle:")
