"""With no SMTP server configured, this is where scanboard's emails arrive."""

import streamlit as st

from lib.core.text import md_escape
from lib.services.visibility import visible_messages
from ui.auth import viewer
from ui.runtime import get_runtime
from ui.widgets import empty_state

rt = get_runtime()
st.title("Outbox")
st.caption("No SMTP server is configured (set SMTP_HOST to send real mail), so emails are delivered here.")
messages = visible_messages(rt.mailer, viewer())
if not messages:
    empty_state("No messages yet — request a scan on New scan; its confirmation email arrives here.")
for m in messages:
    with st.container(border=True):
        st.markdown(
            f"**{md_escape(m.subject)}**  \nTo: {md_escape(m.to_addr)} · "
            f"{m.created_at:%Y-%m-%d %H:%M:%S} UTC · {m.kind}"
        )
        if m.link:
            st.markdown(f"[{'Confirm the scan' if m.kind == 'confirm' else 'Open the report'}]({m.link})")
        with st.expander("Message"):
            st.text(m.body)
