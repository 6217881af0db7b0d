"""Recurring scans: make one (target, scanners, when, optional notification), see each one's next run and last
outcome, pause, resume or delete it."""

import streamlit as st

from lib.core.findings import SEVERITIES
from lib.core.notifications import CHANNELS, EVENT_LABELS
from lib.core.pipeline import OPTION_DEFAULTS, SCANNER_LABELS
from lib.core.schedule_rules import WEEKDAYS
from lib.services import schedules
from lib.services.notifications import add_rule, delete_rule, list_rules
from ui.auth import viewer
from ui.runtime import get_runtime
from ui.widgets import field_error, portscan_switches, switch_values

rt = get_runtime()
me = viewer()
st.title("Schedules")
st.caption(
    "A schedule scans a target again and again; each run is an ordinary scan in Progress, Reports and History. "
    "Runs missed while scanboard was down are folded into one."
)
ss = st.session_state
errors: dict[str, str] = ss.get("schedule_errors", {})
may_create = me.signed_in or rt.settings.scanboard_mode == "embedded"


def new_schedule_form() -> None:
    with st.form("new_schedule"):
        st.text_input("Target URL", key="s_target", placeholder="https://example.com/", max_chars=2048)
        field_error(errors, "target")
        if not me.signed_in:
            st.text_input("Your email (owner of the schedule)", key="s_email", max_chars=254)
            field_error(errors, "email")
        st.multiselect(
            "Scanners", list(SCANNER_LABELS), default=["web"], format_func=lambda k: SCANNER_LABELS[k], key="s_scanners"
        )
        st.text_input("Ports (port scan)", value=OPTION_DEFAULTS["portscan"]["ports"], key="s_ports")
        field_error(errors, "scanners")
        field_error(errors, "portscan.ports")
        portscan_switches("s", errors)
        c1, c2, c3, c4 = st.columns(4)
        c1.selectbox("Repeat", ["weekly", "daily", "cron"], key="s_preset")
        c2.text_input("At (HH:MM)", value="03:00", key="s_at")
        c3.selectbox("On (weekly)", WEEKDAYS, format_func=str.capitalize, key="s_weekday")
        c4.text_input("Time zone", value="UTC", key="s_tz", help="An IANA name, e.g. Europe/Berlin")
        st.text_input("Cron expression (when Repeat is cron)", key="s_cron", placeholder="0 3 * * 1")
        for key in ("cron", "at", "weekday", "preset", "tz"):
            field_error(errors, key)
        st.markdown("**Notify me** (optional)")
        notify_fields("s", with_none=True)
        if st.form_submit_button("Create schedule", type="primary"):
            create()


def notify_fields(prefix: str, with_none: bool) -> None:
    """Channel, event, severity and destination inputs (the destination is a secret: typed hidden)."""
    n1, n2, n3 = st.columns(3)
    n1.selectbox("Channel", ["none", *CHANNELS] if with_none else list(CHANNELS), key=f"{prefix}_channel")
    n2.selectbox("When", list(EVENT_LABELS), format_func=lambda k: EVENT_LABELS[k], key=f"{prefix}_event")
    n3.selectbox("Lowest severity (new findings)", SEVERITIES, index=1, key=f"{prefix}_severity")
    st.text_input("Email address or webhook URL", key=f"{prefix}_destination", type="password")
    for key in ("destination", "channel", "event", "min_severity"):
        field_error(errors, key)


def user_rules(owner: str) -> None:
    """Rules for every scan of the viewer (not one schedule): listed masked, deletable, and a form to add one."""
    for rule in list_rules(rt, owner, schedule_id=""):
        c1, c2 = st.columns([6, 1])
        c1.caption(f"{rule.channel} {rule.destination} {EVENT_LABELS[rule.event]} {rule.min_severity}")
        if c2.button("Remove", key=f"rule_{rule.id}", icon=":material/delete:"):
            delete_rule(rt, rule.id)
            st.rerun()
    with st.form("user_rule"):
        notify_fields("u", with_none=False)
        if st.form_submit_button("Add notification"):
            out = add_rule(rt, owner, ss.u_channel, ss.u_destination, ss.u_event, ss.u_severity)
            ss.schedule_errors, ss.schedule_message = dict(out.errors), "Notification added." if out.ok else ""
            st.rerun()


def create() -> None:
    owner = me.email if me.signed_in else ss.get("s_email", "")
    options = {"portscan": {"ports": ss.s_ports, **switch_values("s")}}
    scanners = {name: options.get(name, {}) for name in ss.s_scanners}
    cron = ss.s_cron if ss.s_preset == "cron" else ""
    when = lambda: schedules.when(cron, ss.s_preset, ss.s_at, ss.s_weekday, ss.s_tz)  # noqa: E731
    out = schedules.create(rt, owner, ss.s_target, scanners, when)
    ss.schedule_errors, ss.schedule_message = dict(out.errors), out.message
    if out.ok and ss.s_channel != "none":
        rule = add_rule(rt, owner, ss.s_channel, ss.s_destination, ss.s_event, ss.s_severity, out.schedule_id)
        ss.schedule_errors = rule.errors
        if not rule.ok:
            ss.schedule_message += " The notification was not added: correct it below and add it again."
    st.rerun()


def schedule_card(sched) -> None:
    with st.container(border=True):
        state = f"paused: {sched.paused_reason}" if sched.paused else f"next run {sched.next_run_at:%Y-%m-%d %H:%M} UTC"
        st.markdown(f"**{sched.target}** · `{sched.cron}` ({sched.tz}) · {state}")
        st.caption(
            f"Owner {sched.owner_email} · scanners {', '.join(sched.scanners)} · last outcome: "
            f"{sched.last_outcome or 'not run yet'}"
        )
        for rule in list_rules(rt, schedule_id=sched.id):
            st.caption(f"Notifies {rule.channel} {rule.destination} {EVENT_LABELS[rule.event]} {rule.min_severity}")
        b1, b2, _ = st.columns([1, 1, 6])
        if sched.paused and b1.button("Resume", key=f"resume_{sched.id}", icon=":material/play_arrow:"):
            out = schedules.resume(rt, sched.id)
            ss.schedule_message, ss.schedule_warning = out.message, "; ".join(out.errors.values())
            st.rerun()
        if not sched.paused and b1.button("Pause", key=f"pause_{sched.id}", icon=":material/pause:"):
            schedules.pause(rt, sched.id)
            st.rerun()
        if b2.button("Delete", key=f"delete_{sched.id}", icon=":material/delete:"):
            schedules.delete_schedule(rt, sched.id)
            st.rerun()
        if sched.last_scan_id:
            st.page_link(
                "views/progress.py",
                label=f"Last scan {sched.last_scan_id}",
                query_params={"scan": sched.last_scan_id},
                icon=":material/account_tree:",
            )


if may_create:
    with st.expander("New schedule", expanded=bool(errors)):
        new_schedule_form()
    if me.signed_in:
        with st.expander("Notify me about every scan of mine"):
            user_rules(me.email)
else:
    st.info("Sign in to make schedules.", icon=":material/login:")
if ss.get("schedule_warning"):
    st.warning(ss.pop("schedule_warning"), icon=":material/verified_user:")
if errors:
    st.error("The schedule was not stored: please correct the fields marked above.")
elif ss.get("schedule_message"):
    st.success(ss.schedule_message)

mine = schedules.list_schedules(rt, "" if me.sees_all_scans() else me.email)
if not mine:
    st.info("No schedules yet. Open *New schedule* above to scan a target every day or week.")
for sched in mine:
    schedule_card(sched)
