"""A waiting scan's place in the queue and why it waits, read from real SQLite rows that the real intake wrote
(requests submitted and confirmed through lib.services.intake; the dispatcher not started, so nothing moves)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import update

from lib.adapters.models import RUNNING, Scan, utcnow
from lib.insights.queue_position import (
    DISPATCH,
    OWNERSHIP_PROOF,
    PER_USER_LIMIT,
    STARTING,
    WORKERS_BUSY,
    queue_wait,
)
from lib.runtime import build_runtime
from lib.services.intake import confirm, submit

TARGET = "http://127.0.0.1:9/"


def request(rt, email: str, minute: int, *, confirmed: bool = True) -> str:
    """Submit a scan and (optionally) open its link, `minute` minutes after a fixed start: the queue's order."""
    now = utcnow() - timedelta(hours=1) + timedelta(minutes=minute)
    out = submit(rt, TARGET, email, {"web": {}}, now=now)
    assert out.ok, out.errors
    if confirmed:
        link = next(m.link for m in rt.mailer.messages() if m.scan_id == out.scan_id and m.kind == "confirm")
        assert confirm(rt, parse_qs(urlsplit(link).query)["token"][0], now=now).ok
    return out.scan_id


def start_running(rt, *ids: str) -> None:
    """What the dispatcher's claim writes when a worker takes a scan."""
    with rt.sessions.begin() as s:
        s.execute(update(Scan).where(Scan.id.in_(ids)).values(status=RUNNING, status_reason=""))


def test_position_follows_confirmation_order_and_says_the_workers_are_busy(make_settings) -> None:
    rt = build_runtime(make_settings(scan_workers=2, limit_running=3, limit_unconfirmed=10))
    a, b = request(rt, "ana@example.com", 0), request(rt, "bob@example.com", 1)
    c, d = request(rt, "cy@example.com", 2), request(rt, "ana@example.com", 3)
    start_running(rt, a, b)
    first, second = queue_wait(rt.sessions, c, 2, 3), queue_wait(rt.sessions, d, 2, 3)
    assert first is not None and second is not None
    assert (first.position, first.queued, first.reason) == (1, 2, WORKERS_BUSY)
    assert (second.position, second.queued, second.reason) == (2, 2, WORKERS_BUSY)
    assert "Number 2 of 2" in second.message and "all 2 workers are busy and 1 scan ahead" in second.message
    assert queue_wait(rt.sessions, a, 2, 3) is None  # running: not waiting
    rt.db.dispose()


def test_a_free_worker_goes_to_the_scans_ahead_first(make_settings) -> None:
    rt = build_runtime(make_settings(scan_workers=2, limit_unconfirmed=10))
    a, b, c = (request(rt, f"u{i}@example.com", i) for i in range(3))
    start_running(rt, a)  # one of two workers free, and b is ahead of c
    ahead, behind = queue_wait(rt.sessions, b, 2, 3), queue_wait(rt.sessions, c, 2, 3)
    assert ahead is not None and (ahead.position, ahead.reason) == (1, STARTING)
    assert behind is not None and (behind.position, behind.reason) == (2, WORKERS_BUSY)
    assert "scans ahead of it (1)" in behind.message
    rt.db.dispose()


def test_per_user_limit_holds_back_a_confirmation(make_settings) -> None:
    rt = build_runtime(make_settings(limit_running=2, limit_unconfirmed=10))
    request(rt, "ana@example.com", 0), request(rt, "ana@example.com", 1)
    waiting = request(rt, "ana@example.com", 2, confirmed=False)
    other = request(rt, "bob@example.com", 3, confirmed=False)
    held = queue_wait(rt.sessions, waiting, 2, 2)
    assert held is not None and held.reason == PER_USER_LIMIT and held.position is None
    assert "2 scans running or queued (limit 2)" in held.message
    assert queue_wait(rt.sessions, other, 2, 2) is None  # bob only waits for his own click
    rt.db.dispose()


def test_ownership_proof_comes_before_the_queue(make_settings) -> None:
    rt = build_runtime(make_settings(ownership_proof="on"))
    sid = request(rt, "ana@example.com", 0)
    wait = queue_wait(rt.sessions, sid, 2, 3)
    assert wait is not None and wait.reason == OWNERSHIP_PROOF and wait.position is None
    assert "ownership proof" in wait.message
    rt.db.dispose()


def test_cluster_mode_has_no_pool_and_says_what_the_dispatcher_reported(make_settings) -> None:
    rt = build_runtime(make_settings(limit_unconfirmed=10))
    sid = request(rt, "ana@example.com", 0)
    with rt.sessions.begin() as s:
        s.execute(update(Scan).where(Scan.id == sid).values(status_reason="waiting to start: webhook answered 503"))
    wait = queue_wait(rt.sessions, sid, None, 3)
    assert wait is not None and (wait.reason, wait.position) == (DISPATCH, 1)
    assert wait.message.endswith("webhook answered 503.")
    assert queue_wait(rt.sessions, "nosuchscan00", None, 3) is None
    rt.db.dispose()
