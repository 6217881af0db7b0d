"""Schedules: checked like a scan request, each run an ordinary queued scan started by run_due(now) with the
clock the test holds; missed runs coalesce; a lapsed ownership proof pauses the schedule and says why."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from lib.adapters.models import QUEUED, Schedule, ScheduleRun
from lib.adapters.repository import get_scan
from lib.engines.argo import ArgoEngine
from lib.insights.queue_position import queue_wait
from lib.runtime import Runtime, build_runtime
from lib.services import api_tokens, schedules
from lib.services.intake import submit
from tests.api_server import serve_api
from tests.notify_receiver import Receiver
from tests.webhook_server import WebhookServer

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday
WELL_KNOWN = "/.well-known/scanboard-verification.txt"


@pytest.fixture
def site() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def rt_for(make_settings, **overrides) -> Runtime:
    return build_runtime(make_settings(**overrides))  # not started: scans stay queued for the test to inspect


def weekly() -> schedules.Recurrence:
    return schedules.when(preset="weekly", at="09:00", weekday="tuesday", tz="Europe/Berlin")


def test_create_checks_the_request_and_the_schedule_together(make_settings) -> None:
    rt = rt_for(make_settings, scanboard_mode="argo", argo_webhook_url="http://127.0.0.1:9/")
    out = schedules.create(rt, "not-an-email", "http://127.0.0.1/", {"nosuch": {}}, lambda: schedules.when("* * *"))
    assert not out.ok
    assert set(out.errors) == {"target", "email", "scanners", "cron"}
    assert "loopback address" in out.errors["target"]
    assert schedules.list_schedules(rt) == []


def test_weekly_run_is_an_ordinary_queued_scan(make_settings, site) -> None:
    rt = rt_for(make_settings)
    out = schedules.create(rt, "ana@example.com", site.url + "/", {"web": {}}, weekly, now=T0)
    assert out.ok, out.errors
    [sched] = schedules.list_schedules(rt, "ana@example.com")
    assert sched.next_run_at == datetime(2026, 3, 3, 8, 0, tzinfo=UTC)  # Tuesday 09:00 in Berlin
    assert schedules.run_due(rt, T0 + timedelta(hours=1)) == []
    [scan_id] = schedules.run_due(rt, T0 + timedelta(days=1))
    scan = get_scan(rt.sessions, scan_id)
    assert (scan.status, scan.requester_email, scan.target) == (QUEUED, "ana@example.com", site.url + "/")
    assert schedules.run_due(rt, T0 + timedelta(days=1)) == []  # the same tick again starts nothing
    [sched] = schedules.list_schedules(rt)
    assert sched.last_scan_id == scan_id and sched.next_run_at == datetime(2026, 3, 10, 8, 0, tzinfo=UTC)


def test_a_scheduled_run_reads_as_requested_by_the_schedule(make_settings, site) -> None:
    """The API tells a schedule's run from a scan asked for by hand (requested_via: schedule vs form)."""
    rt = rt_for(make_settings)
    assert schedules.create(rt, "ana@example.com", site.url + "/", {"web": {}}, weekly, now=T0).ok
    [scheduled] = schedules.run_due(rt, T0 + timedelta(days=1))
    by_hand = submit(rt, site.url + "/", "ana@example.com", {"web": {}}, now=T0).scan_id
    key = api_tokens.create(rt.sessions, "ana@example.com", "ci", ["scans:read"], 1).key
    with serve_api(rt) as base, httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as api:
        via = {s["id"]: s["requested_via"] for s in api.get("/api/v1/scans").raise_for_status().json()["items"]}
        assert api.get(f"/api/v1/scans/{scheduled}").json()["requested_via"] == "schedule"
    assert via == {scheduled: "schedule", by_hand: "form"}


def test_missed_runs_after_downtime_start_once_and_say_so(make_settings, site) -> None:
    rt = rt_for(make_settings)
    schedules.create(rt, "ana@example.com", site.url + "/", {"web": {}}, weekly, now=T0)
    [scan_id] = schedules.run_due(rt, T0 + timedelta(weeks=3, days=1))  # down for three weeks
    assert "3 earlier run(s) were missed" in get_scan(rt.sessions, scan_id).status_reason
    with rt.sessions() as s:
        assert s.get(ScheduleRun, scan_id).missed == 3
    assert "missed" in schedules.list_schedules(rt)[0].last_outcome


def test_scheduled_runs_count_against_the_running_limit(make_settings, site) -> None:
    rt = rt_for(make_settings, limit_running=1)
    assert submit(rt, site.url + "/", "ana@example.com", {"web": {}}).ok  # unconfirmed: holds no slot
    schedules.create(rt, "ana@example.com", site.url + "/", {"web": {}}, weekly, now=T0)
    [first] = schedules.run_due(rt, T0 + timedelta(days=1))
    schedules.create(rt, "ana@example.com", site.url + "/", {"web": {}}, weekly, now=T0)
    assert schedules.run_due(rt, T0 + timedelta(days=1)) == []  # the first scheduled scan holds the one slot
    outcomes = {s.last_outcome for s in schedules.list_schedules(rt)}
    assert any("skipped" in o and "limit 1" in o for o in outcomes), outcomes
    assert first


def test_proof_required_pauses_until_present_and_a_lapse_pauses_again(make_settings, site) -> None:
    rt = rt_for(make_settings, ownership_proof="on")
    out = schedules.create(rt, "ana@example.com", site.url + "/", {"web": {}}, weekly, now=T0)
    assert out.ok and WELL_KNOWN in out.message
    [sched] = schedules.list_schedules(rt)
    assert sched.paused and "answered 404" in sched.paused_reason
    assert schedules.run_due(rt, T0 + timedelta(days=1)) == []
    site.files[WELL_KNOWN] = sched.ownership_token
    assert schedules.resume(rt, sched.id, now=T0).ok
    [scan_id] = schedules.run_due(rt, T0 + timedelta(days=1))
    assert get_scan(rt.sessions, scan_id).ownership_verified_at is not None
    del site.files[WELL_KNOWN]  # the owner took the file down
    assert schedules.run_due(rt, T0 + timedelta(days=8)) == []
    [sched] = schedules.list_schedules(rt)
    assert sched.paused and sched.paused_reason.startswith("the ownership proof lapsed")
    assert not schedules.resume(rt, sched.id, now=T0 + timedelta(days=8)).ok


def test_pause_resume_delete(make_settings, site) -> None:
    rt = rt_for(make_settings)
    sid = schedules.create(rt, "ana@example.com", site.url + "/", {"web": {}}, weekly, now=T0).schedule_id
    assert schedules.pause(rt, sid)
    assert schedules.run_due(rt, T0 + timedelta(weeks=5)) == []
    resumed = schedules.resume(rt, sid, now=T0 + timedelta(weeks=5))
    assert resumed.ok
    assert schedules.list_schedules(rt)[0].next_run_at > T0 + timedelta(weeks=5)  # no burst after a pause
    [scan_id] = schedules.run_due(rt, T0 + timedelta(weeks=6))
    assert schedules.delete_schedule(rt, sid)
    assert schedules.list_schedules(rt) == []
    assert get_scan(rt.sessions, scan_id) is not None  # its scans stay in History


def test_queued_scans_know_their_place_and_why_they_wait(make_settings, site) -> None:
    rt = rt_for(make_settings, limit_running=10)
    for minute in range(3):  # Tuesdays at 09:00, 09:01, 09:02 in Berlin (08:0x UTC)
        when = lambda m=minute: schedules.when(f"{m} 9 * * 2", tz="Europe/Berlin")  # noqa: E731
        schedules.create(rt, "ana@example.com", site.url + "/", {"web": {}}, when, now=T0)
    ids = []
    for minute in range(3):  # one tick a minute: the runs are confirmed one after another
        ids += schedules.run_due(rt, T0 + timedelta(hours=20, minutes=minute))
    assert len(ids) == 3
    waits = [queue_wait(rt.sessions, i, 2, 10) for i in ids]  # scheduled runs queue like any confirmed scan
    assert [w.position for w in waits if w is not None] == [1, 2, 3]


def test_in_argo_mode_a_scheduled_run_goes_through_the_same_webhook(make_settings, site) -> None:
    hook = WebhookServer().start()
    try:
        rt = rt_for(
            make_settings,
            scanboard_mode="argo",
            scanboard_secret_key="jwt-secret-for-tests-0123456789-abcdef",
            argo_webhook_url=hook.url,
            argo_webhook_token=hook.token,
            reports_bucket="unused",
            scope_allow_loopback=True,
            ownership_proof="off",
        )
        assert schedules.create(rt, "ana@example.com", site.url + "/", {"web": {}}, weekly, now=T0).ok
        [scan_id] = schedules.run_due(rt, T0 + timedelta(days=1))
        assert isinstance(rt.engine, ArgoEngine)
        assert rt.engine.deliver_due() == [scan_id]
        [event] = hook.received
        assert scan_id in json.dumps(event)
    finally:
        hook.stop()


def test_a_schedule_whose_time_zone_is_gone_pauses_alone(make_settings, site) -> None:
    rt = rt_for(make_settings)
    broken = schedules.create(rt, "ana@example.com", site.url + "/", {"web": {}}, weekly, now=T0).schedule_id
    schedules.create(rt, "ana@example.com", site.url + "/", {"web": {}}, weekly, now=T0)
    with rt.sessions.begin() as s:  # as if the tz database no longer had the zone the schedule was made with
        s.get(Schedule, broken).tz = "Europe/Atlantis"
    assert len(schedules.run_due(rt, T0 + timedelta(days=1))) == 1  # the other schedule still runs
    paused = {x.id: x for x in schedules.list_schedules(rt)}[broken]
    assert paused.paused and "Europe/Atlantis" in paused.paused_reason
