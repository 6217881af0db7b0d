"""Sign in with the organisation's identity provider (OIDC through st.login)."""

import streamlit as st

from lib.core.text import md_escape
from ui.auth import provider_configured, refusal

st.title("scanboard")
if not provider_configured():
    st.error(
        "Sign-in is switched on (SCANBOARD_AUTH=oidc) but no identity provider is configured: add an [auth] "
        "section to .streamlit/secrets.toml (see the README), or set SCANBOARD_AUTH=none.",
        icon=":material/key_off:",
    )
    st.stop()
if refusal():
    st.error(f"Sign-in refused: {md_escape(refusal())}", icon=":material/person_off:")
    if st.button("Sign out", icon=":material/logout:"):
        st.logout()
    st.stop()
st.write("Sign in with your organisation account to request scans and read reports.")
st.caption("A confirmation link from an email works without signing in.")
if st.button("Sign in", type="primary", icon=":material/login:"):
    st.login()
