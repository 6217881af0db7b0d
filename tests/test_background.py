"""lib.adapters.background.BackgroundLoop, the one helper behind the dispatcher, Argo sync, sampler and
housekeeping threads: a step that raises is logged and the loop goes on; wake() runs a pass now; stop() joins."""

from __future__ import annotations

import logging
import threading

from lib.adapters.background import BackgroundLoop


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
