"""Small widgets several pages draw the same way."""

from __future__ import annotations

import streamlit as st

from lib.core.findings import SEVERITIES
from lib.core.limit_rules import client_address
from lib.core.pipeline import OPTION_DEFAULTS
from lib.core.text import md_escape
from lib.core.validation import SWITCH_LABELS
from ui.auth import can_open
from ui.pages import PAGES

STATUS_ICONS = {
    "awaiting_confirmation": ":material/mail:",
    "awaiting_ownership": ":material/verified_user:",
    "queued": ":material/hourglass_top:",
    "running": ":material/autorenew:",
    "succeeded": ":material/check_circle:",
    "partial": ":material/warning:",
    "failed": ":material/cancel:",
}


def status_label(status: str) -> str:
    return f"{STATUS_ICONS.get(status, '')} {status.replace('_', ' ')}".strip()


def severity_metrics(counts: dict[str, int]) -> None:
    for col, sev in zip(st.columns(len(SEVERITIES)), SEVERITIES):
        col.metric(sev.capitalize(), counts.get(sev, 0))


def field_error(errors: dict[str, str], key: str) -> None:
    """The validation message for one form field, right under it."""
    if key in errors:
        st.error(md_escape(errors[key]), icon=":material/error:")


SWITCH_HELP = {
    "service_version": "nmap -sV names the product and version behind each port, and its http-headers script the "
    "Server header. Slower: ports that stay silent wait for every probe.",
    "tls_ciphers": "nmap's ssl-enum-ciphers lists each TLS protocol's cipher suites with a grade (A to F). nmap "
    "classes it intrusive (many handshakes), so it runs only when asked.",
}


def portscan_switches(prefix: str, errors: dict[str, str]) -> None:
    """The port scan's on/off options as checkboxes, each with its validation message."""
    for key, label in SWITCH_LABELS.items():
        default = OPTION_DEFAULTS["portscan"][key] == "true"
        st.checkbox(label, value=default, key=f"{prefix}_{key}", help=SWITCH_HELP[key])
        field_error(errors, f"portscan.{key}")


def switch_values(prefix: str) -> dict[str, bool]:
    """What the checkboxes `portscan_switches(prefix, ...)` drew were set to, keyed by option."""
    return {key: bool(st.session_state.get(f"{prefix}_{key}")) for key in SWITCH_LABELS}


def client_id(trusted_hops: int = 0) -> str:
    """The viewer's address: the TCP peer, or from X-Forwarded-For through `trusted_hops` proxies
    ("" when unknown, e.g. under AppTest)."""
    ip = st.context.ip_address
    peer = ip if isinstance(ip, str) else ""
    headers = st.context.headers
    forwarded = headers.get_all("X-Forwarded-For") if hasattr(headers, "get_all") else []
    return client_address(peer, list(forwarded), trusted_hops)


def empty_state(message: str, to: str = "new_scan") -> None:
    """Nothing to show yet: say so, say what to do, and link the page where it is done (when this viewer has it)."""
    st.info(message, icon=":material/info:")
    if can_open(to):
        page = PAGES[to]
        st.page_link(page.file, label=f"Go to {page.title}", icon=page.icon)
