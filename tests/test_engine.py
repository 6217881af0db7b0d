"""The embedded engine: one run per confirmed scan however many confirm at once, bounded workers, and
scans interrupted by a restart are resumed (finished steps kept) rather than left running forever."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import update

from lib.adapters.models import FAILED, RUNNING, SUCCEEDED, Scan, Step, utcnow
from lib.adapters.repository import ensure_steps, get_scan, get_steps
from lib.engines.local import MAX_RESUMES, LocalEngine
from lib.runtime import build_runtime
from lib.services.intake import confirm, submit
from testkit.targets import http_target
from tests.conftest import wait_until


def request(rt, port: int) -> tuple[str, str]:
    out = submit(rt, f"http://127.0.0.1:{port}/", "ana@example.com", {"web": {}})
    link = next(m.link for m in rt.mailer.messages() if m.scan_id == out.scan_id)
    return out.scan_id, parse_qs(urlsplit(link).query)["token"][0]


def test_200_concurrent_confirmations_start_exactly_one_scan(runtime) -> None:
    with http_target() as port:
        scan_id, token = request(runtime, port)
        with ThreadPoolExecutor(max_workers=32) as pool:
            outcomes = list(pool.map(lambda _: confirm(runtime, token), range(200)))
        assert [o.status for o in outcomes].count("started") == 1
        assert {o.status for o in outcomes} == {"started", "already"}
        wait_until(lambda: get_scan(runtime.sessions, scan_id).finished_at, timeout=60)
        scan = get_scan(runtime.sessions, scan_id)
        assert scan.status == SUCCEEDED and scan.dispatch_attempts == 1
        assert len([m for m in runtime.mailer.messages() if m.kind == "report"]) == 1


def test_a_scan_left_running_by_a_dead_process_is_resumed(make_settings) -> None:
    settings = make_settings(stale_scan_seconds=0.5)
    rt = build_runtime(settings)  # never started: it plays the process that died mid-scan
    with http_target() as port:
        scan_id, token = request(rt, port)
        assert confirm(rt, token).ok
        with rt.sessions.begin() as s:
            scan = s.get(Scan, scan_id)
            ensure_steps(s, scan)
            s.flush()
            s.execute(
                update(Scan)
                .where(Scan.id == scan_id)
                .values(status=RUNNING, heartbeat_at=utcnow() - timedelta(minutes=5), dispatch_attempts=1)
            )
            s.execute(update(Step).where(Step.scan_id == scan_id, Step.name == "web").values(state="running"))
        rt.db.dispose()
        restarted = build_runtime(settings).start()
        try:
            wait_until(lambda: get_scan(restarted.sessions, scan_id).finished_at, timeout=60)
            scan = get_scan(restarted.sessions, scan_id)
            assert scan.status == SUCCEEDED and scan.dispatch_attempts == 2
            assert {s.name: s.state for s in get_steps(restarted.sessions, scan_id)}["notify"] == "succeeded"
        finally:
            restarted.stop()


def test_a_scan_interrupted_too_often_is_failed_with_a_reason(runtime) -> None:
    with http_target() as port:
        scan_id, _ = request(runtime, port)
    with runtime.sessions.begin() as s:
        s.execute(
            update(Scan)
            .where(Scan.id == scan_id)
            .values(status=RUNNING, heartbeat_at=utcnow() - timedelta(hours=1), dispatch_attempts=MAX_RESUMES)
        )
    assert isinstance(runtime.engine, LocalEngine)
    runtime.engine.resume_stale()
    scan = get_scan(runtime.sessions, scan_id)
    assert scan.status == FAILED and "interrupted" in scan.status_reason


def test_workers_are_bounded(make_settings) -> None:
    rt = build_runtime(make_settings(scan_workers=1))
    with http_target() as port:
        ids = []
        for _ in range(3):
            scan_id, token = request(rt, port)
            assert confirm(rt, token).ok
            ids.append(scan_id)
        assert rt.engine.stats().queued == 3
        rt.start()
        try:
            seen_running = set()

            def all_done() -> bool:
                running = [i for i in ids if get_scan(rt.sessions, i).status == RUNNING]
                seen_running.add(len(running))
                return all(get_scan(rt.sessions, i).finished_at for i in ids)

            wait_until(all_done, timeout=90, interval=0.02)
            assert max(seen_running) == 1
            assert all(get_scan(rt.sessions, i).status == SUCCEEDED for i in ids)
            assert rt.engine.stats().queued == 0
        finally:
            rt.stop()
