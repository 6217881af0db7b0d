"""API tokens for pipelines: create one (its key is shown once), see when each was last used, revoke."""

import pandas as pd
import streamlit as st

from lib.core.api_keys import SCAN_READ, SCAN_WRITE, SCOPES
from lib.services import api_tokens
from lib.services.audit import api_calls
from ui.auth import viewer
from ui.runtime import get_runtime

rt = get_runtime()
me = viewer()
st.title("API tokens")
st.caption(
    "A token lets a pipeline ask for scans and read their results through the API "
    f"({rt.settings.public_base_url.rstrip('/')}/api/v1, see /api/v1/docs). Scans it asks for are recorded as "
    "yours, under your limits, and start without a confirmation mail."
)
if me.signed_in:
    owner = me.email
else:
    owner = st.text_input("Your email (without sign-in, tokens act for the address given here)", key="token_owner")

with st.form("new_token", clear_on_submit=True):
    name = st.text_input("Name", placeholder="e.g. github-actions deploy", max_chars=100)
    scopes = st.multiselect("Scopes", SCOPES, default=[SCAN_READ, SCAN_WRITE])
    days = st.number_input("Valid for (days)", min_value=1, max_value=api_tokens.MAX_DAYS, value=90, step=1)
    create = st.form_submit_button("Create token", type="primary")

if create:
    try:
        made = api_tokens.create(rt.sessions, owner or "", name, scopes, int(days))
    except ValueError as e:
        st.error(f"No token was created: {e}")
    else:
        st.success("Token created. Copy it now: it is shown only this once and stored only as a hash.")
        st.code(made.key, language=None)

tokens = api_tokens.list_tokens(rt.sessions, owner) if owner else []
st.subheader("Your tokens")
if not tokens:
    st.info(
        "No tokens yet — create one with the form above; it is shown once, then listed here.", icon=":material/info:"
    )
for t in tokens:
    state = api_tokens.state_of(t)
    with st.container(border=True):
        used = f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never"
        st.markdown(
            f"**{t.name or 'unnamed'}** · `sbk_{t.prefix}_…` · {t.scopes} · **{state}**  \n"
            f"created {t.created_at:%Y-%m-%d} · expires {t.expires_at:%Y-%m-%d} · last used {used} UTC"
        )
        if state == "active" and st.button("Revoke", key=f"revoke-{t.id}", icon=":material/block:"):
            api_tokens.revoke(rt.sessions, owner, t.id)
            st.rerun()

calls = api_calls(rt.sessions, owner_email=owner, limit=50) if owner else []
if calls:
    st.subheader("Recent API calls")
    rows = [
        {"at": c.at, "token": f"sbk_{c.token_prefix}", "call": f"{c.method} {c.path}", "status": c.status}
        for c in calls
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True)
st.caption(f"The write scope ({SCAN_WRITE}) asks for scans; the read scope reads status, findings and reports.")
