"""The viewer of this session: the local user (no sign-in) or the person signed in with st.login (OIDC)."""

from __future__ import annotations

import streamlit as st

from lib.config import Settings
from lib.core.roles import LOCAL_VIEWER, Viewer, roles_for, sign_in_refusal, visible_pages
from ui.audit import note

VIEWER_KEY = "scanboard_viewer"
REFUSAL_KEY = "scanboard_sign_in_refused"


def resolve_viewer(settings: Settings) -> Viewer | None:
    """None when sign-in is required and nobody is signed in, or the identity is refused (no verified email)."""
    refusal = ""
    if settings.scanboard_auth == "none":
        viewer: Viewer | None = LOCAL_VIEWER
    elif not signed_in():
        viewer = None
    else:
        info = st.user.to_dict()
        refusal = sign_in_refusal(info)
        email = str(info.get("email") or "").strip()
        viewer = None if refusal else Viewer(email, roles_for(email, info, settings.role_policy()), signed_in=True)
    st.session_state[VIEWER_KEY] = viewer
    st.session_state[REFUSAL_KEY] = refusal
    if viewer is not None and viewer.signed_in:
        note("signed_in", detail=", ".join(sorted(viewer.roles)))
    elif refusal:
        note("sign_in_refused", detail=refusal, actor=str(st.user.to_dict().get("email") or "(no email)"))
    return viewer


def refusal() -> str:
    """Why this session's identity was refused sign-in ("" when it was not)."""
    return str(st.session_state.get(REFUSAL_KEY) or "")


def signed_in() -> bool:
    """st.user.is_logged_in, or False when no identity provider is configured (st.user then has no such key)."""
    try:
        return bool(st.user.is_logged_in)
    except (AttributeError, KeyError):
        return False


def provider_configured() -> bool:
    """Whether .streamlit/secrets.toml has the [auth] section st.login needs."""
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001 - no secrets file at all is the same answer
        return False


def can_open(page: str) -> bool:
    """Whether this session's navigation has the page (signed-out viewers have only sign-in and confirm)."""
    current = st.session_state.get(VIEWER_KEY)
    return current is not None and page in visible_pages(current)


def viewer() -> Viewer:
    """The viewer app.py resolved for this run (pages are only reached through app.py)."""
    return st.session_state.get(VIEWER_KEY) or LOCAL_VIEWER
