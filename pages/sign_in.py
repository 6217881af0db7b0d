"""Sign in with the organisation's identity provider (OIDC through st.login)."""

import streamlit as st

st.title("scanboard")
st.write("Sign in with your organisation account to request scans and read reports.")
st.caption("A confirmation link from an email works without signing in.")
if st.button("Sign in", type="primary", icon=":material/login:"):
    st.login()
