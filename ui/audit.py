"""Audit events from the pages: the signed-in viewer (or "local") did something to a scan."""

from __future__ import annotations

import streamlit as st

from lib.adapters.audit import record
from ui.runtime import get_runtime

SEEN_KEY = "scanboard_audited"


def note(action: str, scan_id: str = "", detail: str = "", *, actor: str = "", once: bool = True) -> None:
    """Record one event; with `once`, only the first time this session does `action` to `scan_id` (pages rerun
    on every widget change, a view is one view)."""
    seen: set[tuple[str, str]] = st.session_state.setdefault(SEEN_KEY, set())
    if once and (action, scan_id) in seen:
        return
    seen.add((action, scan_id))
    from ui.auth import viewer  # here: ui.auth records sign-ins through this module

    record(get_runtime().sessions, actor or viewer().email or "local", action, scan_id, detail)
