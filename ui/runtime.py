"""One Runtime per Streamlit process (st.cache_resource): one database pool, one engine, one mail loop,
whatever the number of viewers."""

from __future__ import annotations

import streamlit as st

from lib.config import load_settings
from lib.runtime import Runtime, build_runtime


@st.cache_resource(show_spinner="Starting scanboard…")
def get_runtime() -> Runtime:
    return build_runtime(load_settings()).start()
