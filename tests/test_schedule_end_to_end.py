"""The issue's "done when": a weekly schedule with a Slack-style notification, end to end, with the clock the
scheduler takes advanced a week (no sleeping for time to pass): run_due creates an ordinary scan, the embedded
engine scans a target on 127.0.0.1, and a Slack-style receiver gets exactly one message with the counts."""

from __future__ import annotations

import json
from datetime import timedelta

from lib.adapters.models import FINAL_STATUSES, utcnow
from lib.adapters.repository import get_scan
from lib.core.findings import SEVERITIES
from lib.runtime import build_runtime
from lib.services import schedules
from lib.services.notifications import add_rule
from testkit.targets import http_target
from tests.conftest import wait_until
from tests.notify_receiver import Receiver


def test_weekly_schedule_scans_and_posts_one_slack_message(make_settings) -> None:
    now = [utcnow()]
    rt = build_runtime(make_settings())
    rt.clock = lambda: now[0]
    slack = Receiver()
    rt.start()
    try:
        with http_target() as port:
            target = f"http://127.0.0.1:{port}/"
            weekly = lambda: schedules.when(preset="weekly", at="06:00", weekday="monday", tz="Europe/Berlin")  # noqa: E731
            made = schedules.create(rt, "ana@example.com", target, {"web": {"depth": 1}}, weekly, now=now[0])
            assert made.ok, made.errors
            hook = slack.url + "/services/T000/B000/XXXXXXXX"
            assert add_rule(rt, "ana@example.com", "slack", hook, "finished", schedule_id=made.schedule_id).ok

            assert rt.scheduler_tick() == []  # nothing due yet
            now[0] += timedelta(weeks=1)
            [scan_id] = rt.scheduler_tick()
            assert rt.scheduler_tick() == []  # the same week's run is started once

            scan = wait_until(lambda: (s := get_scan(rt.sessions, scan_id)).status in FINAL_STATUSES and s, 120)
            assert scan.requester_email == "ana@example.com" and scan.target == target
            assert sum(scan.severity_counts.values()) > 0  # the careless local target has findings

            wait_until(lambda: rt.scheduler_tick() is not None and slack.received, 30)
            for _ in range(3):
                rt.scheduler_tick()
            [message] = slack.received
            assert message.path == "/services/T000/B000/XXXXXXXX"
            body = json.loads(message.body)
            counts = ", ".join(f"{scan.severity_counts.get(s, 0)} {s}" for s in SEVERITIES)
            assert counts in body["text"] and target in body["text"]
            assert f"reports?scan={scan_id}" in json.dumps(body["blocks"])
            [sched] = schedules.list_schedules(rt)
            assert sched.last_scan_id == scan_id and sched.last_outcome.startswith(scan.status)
    finally:
        rt.stop()
        slack.close()
