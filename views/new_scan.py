"""Ask for a scan: target, email, scanners and their options. The confirmation link goes out by email."""

import streamlit as st

from lib.core.pipeline import MAX_WEB_DEPTH, OPTION_DEFAULTS, SCANNER_LABELS
from lib.core.ports import MAX_ENTRIES, MAX_RANGES, MAX_SPEC_LENGTH
from lib.core.text import md_escape
from lib.core.validation import MAX_PATH_LENGTH
from lib.services.intake import submit
from ui.auth import viewer
from ui.runtime import get_runtime
from ui.widgets import client_id, field_error, portscan_switches, switch_values

rt = get_runtime()
if viewer().signed_in and "email" not in st.session_state:
    st.session_state.email = viewer().email  # prefilled; the confirmation link still goes to what is entered
errors: dict[str, str] = st.session_state.get("new_scan_errors", {})

st.title("New scan")
if rt.settings.scope_policy().allow_loopback:
    st.info(
        "This portal runs in embedded mode: targets on this machine (localhost) and on private networks "
        "may be scanned. Only scan systems you are allowed to test.",
        icon=":material/info:",
    )
elif rt.settings.ownership_proof != "off":
    st.info(
        "Only public addresses can be scanned. For domains not on this portal's allowlist you will be asked "
        "to prove that you control them (a file under /.well-known/ or a DNS TXT record).",
        icon=":material/verified_user:",
    )

with st.form("new_scan"):
    st.text_input("Target URL", key="target", placeholder="https://example.com/", max_chars=2048)
    field_error(errors, "target")
    st.text_input(
        "Your email (the confirmation link is sent here)", key="email", placeholder="you@example.com", max_chars=254
    )
    field_error(errors, "email")
    st.markdown("**Scanners**")
    c1, c2, c3 = st.columns(3)
    with c1:
        st.checkbox(SCANNER_LABELS["portscan"], value=True, key="use_portscan")
        st.text_input(
            "Ports",
            value=OPTION_DEFAULTS["portscan"]["ports"],
            key="portscan_ports",
            max_chars=MAX_SPEC_LENGTH,
            help=f"e.g. 1-1024 or 22,80,443,8000-8100: at most {MAX_ENTRIES} entries, {MAX_RANGES} of them ranges",
        )
        field_error(errors, "portscan.ports")
        portscan_switches("portscan", errors)
    with c2:
        st.checkbox(SCANNER_LABELS["web"], value=True, key="use_web")
        st.text_input("Start path", value=OPTION_DEFAULTS["web"]["path"], key="web_path", max_chars=MAX_PATH_LENGTH)
        field_error(errors, "web.path")
        st.number_input(
            "Crawl depth", min_value=0, max_value=MAX_WEB_DEPTH, value=OPTION_DEFAULTS["web"]["depth"], key="web_depth"
        )
        field_error(errors, "web.depth")
    with c3:
        st.checkbox(SCANNER_LABELS["tls"], value=True, key="use_tls")
        st.number_input(
            "TLS port (0 = the URL's port, or 443)",
            min_value=0,
            max_value=65535,
            value=OPTION_DEFAULTS["tls"]["port"],
            key="tls_port",
        )
        field_error(errors, "tls.port")
    field_error(errors, "scanners")
    submitted = st.form_submit_button("Request scan", type="primary")

if submitted:
    ss = st.session_state
    scanners = {
        name: opts
        for name, opts in (
            ("portscan", {"ports": ss.portscan_ports, **switch_values("portscan")}),
            ("web", {"path": ss.web_path, "depth": ss.web_depth}),
            ("tls", {"port": ss.tls_port}),
        )
        if ss[f"use_{name}"]
    }
    outcome = submit(rt, ss.target, ss.email, scanners, client_id=client_id(rt.settings.trusted_proxy_hops))
    ss.new_scan_errors = outcome.errors
    ss.new_scan_done = outcome.scan_id if outcome.ok else ""
    ss.new_scan_mail = outcome.email_status
    st.rerun()

if "limit" in errors:
    st.error(md_escape(errors["limit"]), icon=":material/block:")
elif errors:
    st.error("The request was not stored: please correct the fields marked above.")
elif scan_id := st.session_state.get("new_scan_done"):
    st.success(
        f"Scan **{scan_id}** requested. A confirmation link was emailed to "
        f"{md_escape(st.session_state.get('email'))}: the scan starts when you open it."
    )
    if st.session_state.get("new_scan_mail") == "outbox":
        st.page_link(
            "views/outbox.py",
            label="No mail server is configured: open the Outbox to find the link",
            icon=":material/mail:",
        )
    elif st.session_state.get("new_scan_mail") == "retrying":
        st.warning("The mail server did not accept the message yet. It is stored and will be retried.")
    st.page_link(
        "views/progress.py",
        label=f"Follow scan {scan_id}",
        query_params={"scan": scan_id},
        icon=":material/account_tree:",
    )
