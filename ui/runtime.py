"""One Runtime per Streamlit process (st.cache_resource): one database pool, one engine, one mail loop,
whatever the number of viewers."""

from __future__ import annotations

import streamlit as st

from lib.config import ConfigError, load_settings
from lib.core.text import md_escape
from lib.runtime import Runtime, build_runtime


@st.cache_resource(show_spinner="Starting scanboard…")
def get_runtime() -> Runtime:
    return build_runtime(load_settings()).start()


def runtime_or_stop() -> Runtime:
    """The runtime; a configuration it cannot start with is shown as the page's only content, not a traceback."""
    try:
        return get_runtime()
    except ConfigError as e:
        st.error(md_escape(str(e)).replace("\n", "  \n"))
        st.stop()
