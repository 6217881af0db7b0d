"""One way to run work in the background: a named daemon thread that runs its steps every interval (or as soon as
woken) until stopped, logging a step's exception and going on, so one bad pass never ends the loop.

Used by the embedded dispatcher, the Argo sync, the cluster sampler and the runtime's housekeeping.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class BackgroundLoop:
    """Runs each of `steps` in turn, then waits `interval_s` or until `wake()`; `stop()` ends it and joins.

    delay_first: wait one interval before the first pass (else the first pass runs at start).
    only_while: asked once per pass (e.g. a leader lease's `hold`); the steps run only when it says True, so a
    pass of several duties costs one lease renewal.
    """

    def __init__(
        self,
        name: str,
        steps: Callable[[], object] | tuple[Callable[[], object], ...],
        interval_s: float,
        *,
        delay_first: bool = False,
        only_while: Callable[[], bool] | None = None,
        join_timeout_s: float = 5.0,
    ) -> None:
        self.name = name
        self.steps = steps if isinstance(steps, tuple) else (steps,)
        self.interval_s = interval_s
        self.delay_first = delay_first
        self.only_while = only_while
        self.join_timeout_s = join_timeout_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def stopping(self) -> bool:
        """True once stop() was called: long work started by a step can check it and leave early."""
        return self._stop.is_set()

    def start(self) -> BackgroundLoop:
        """Start the thread (again after a stop); a second start while running does nothing."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()
        return self

    def wake(self) -> None:
        """Run the next pass now instead of at the end of the interval."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self.join_timeout_s)
            self._thread = None

    def run_once(self) -> None:
        """One pass over the steps; an exception is logged with the step's name and the next step still runs."""
        if not self._allowed():
            return
        for step in self.steps:
            try:
                step()
            except Exception:
                log.exception("%s: %s failed; the next pass tries again", self.name, _name(step))

    def _allowed(self) -> bool:
        """The gate's answer for this pass; a gate that fails (the database is down) means not this pass."""
        try:
            return self.only_while is None or self.only_while()
        except Exception:
            log.exception("%s: checking whether to run failed; the next pass asks again", self.name)
            return False

    def _run(self) -> None:
        if self.delay_first and self._wait():
            return
        while not self._stop.is_set():
            self.run_once()
            if self._wait():
                return

    def _wait(self) -> bool:
        """Sleep until the interval ends or wake(); True when stopping."""
        self._wake.wait(self.interval_s)
        self._wake.clear()
        return self._stop.is_set()


def _name(step: Callable[[], object]) -> str:
    return getattr(step, "__name__", None) or repr(step)
