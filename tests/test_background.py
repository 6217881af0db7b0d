"""lib.adapters.background.BackgroundLoop, the one helper behind the dispatcher, Argo sync, sampler and
housekeeping threads: a step that raises is logged and the loop goes on; wake() runs a pass now; stop() joins."""

from __future__ import annotations

import functools
import logging
import threading

from sqlalchemy import event

from lib.adapters.background import BackgroundLoop
from lib.adapters.db import make_engine, migrate, session_factory
from lib.adapters.lease import Lease


def test_a_failing_step_is_logged_and_the_next_steps_and_passes_still_run(caplog) -> None:
    passes = threading.Semaphore(0)
    calls: list[str] = []

    def broken() -> None:
        calls.append("broken")
        raise RuntimeError("database gone")

    def healthy() -> None:
        calls.append("healthy")
        passes.release()

    loop = BackgroundLoop("test-loop", (broken, healthy), interval_s=0.01)
    with caplog.at_level(logging.ERROR, logger="lib.adapters.background"):
        loop.start()
        assert passes.acquire(timeout=10) and passes.acquire(timeout=10)  # two passes despite the exception
        loop.stop()
    assert calls[:4] == ["broken", "healthy", "broken", "healthy"]
    failure = caplog.records[0]
    assert "test-loop: broken failed" in failure.getMessage() and "database gone" in failure.exc_text


def test_wake_runs_a_pass_before_the_interval_ends_and_stop_ends_the_thread() -> None:
    ran = threading.Event()
    loop = BackgroundLoop("slow-loop", ran.set, interval_s=3600, delay_first=True)
    loop.start()
    assert not ran.wait(0.2)  # delay_first: nothing at start
    loop.wake()
    assert ran.wait(10)
    loop.stop()
    assert loop.stopping and not any(t.name == "slow-loop" for t in threading.enumerate())
    ran.clear()
    loop.start()  # a stopped loop can start again
    loop.wake()
    assert ran.wait(10)
    loop.stop()


def test_a_lease_gate_is_renewed_once_per_pass_and_a_follower_runs_no_step(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'gate.db'}")
    migrate(engine)
    sessions = session_factory(engine)
    updates: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda _c, _cur, sql, *_: updates.append(sql))
    ran: list[str] = []
    duties = tuple(functools.partial(ran.append, name) for name in ("mail", "callbacks", "ownership", "schedules"))
    leader, follower = Lease(sessions, "housekeeping", 60), Lease(sessions, "housekeeping", 60)
    assert leader.hold()
    updates.clear()
    BackgroundLoop("leader", duties, 1.0, only_while=leader.hold).run_once()
    assert ran == ["mail", "callbacks", "ownership", "schedules"]
    assert sum(sql.lstrip().upper().startswith("UPDATE LEASES") for sql in updates) == 1  # not one per duty
    BackgroundLoop("follower", duties, 1.0, only_while=follower.hold).run_once()
    assert len(ran) == 4  # the other process holds the lease: none of the four duties ran twice


def test_a_gate_that_raises_is_logged_and_skips_the_pass(caplog) -> None:
    ran: list[str] = []

    def database_down() -> bool:
        raise OSError("connection refused")

    with caplog.at_level(logging.ERROR, logger="lib.adapters.background"):
        BackgroundLoop("gated", lambda: ran.append("x"), 1.0, only_while=database_down).run_once()
    assert ran == [] and "gated: checking whether to run failed" in caplog.records[0].getMessage()
