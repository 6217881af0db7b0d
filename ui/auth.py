"""The viewer of this session: the local user (no sign-in) or the person signed in with st.login (OIDC)."""

from __future__ import annotations

import streamlit as st

from lib.config import Settings
from lib.roles import LOCAL_VIEWER, Viewer, roles_for

VIEWER_KEY = "scanboard_viewer"


def resolve_viewer(settings: Settings) -> Viewer | None:
    """None when sign-in is required and nobody is signed in."""
    if settings.scanboard_auth == "none":
        viewer: Viewer | None = LOCAL_VIEWER
    elif not st.user.is_logged_in:
        viewer = None
    else:
        info = st.user.to_dict()
        email = str(info.get("email") or "")
        viewer = Viewer(email=email, roles=roles_for(email, info, settings.role_policy()), signed_in=True)
    st.session_state[VIEWER_KEY] = viewer
    return viewer


def viewer() -> Viewer:
    """The viewer app.py resolved for this run (pages are only reached through app.py)."""
    return st.session_state.get(VIEWER_KEY) or LOCAL_VIEWER
