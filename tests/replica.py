"""One portal replica as a process of its own (`python -m tests.replica`): the full runtime from the environment,
its background loops running, until SIGTERM (a clean stop) or SIGKILL (a crash, for the replica tests)."""

from __future__ import annotations

import signal
import threading

from lib.config import load_settings
from lib.runtime import build_runtime


def main() -> None:
    rt = build_runtime(load_settings()).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("replica started", flush=True)
    stop.wait()
    rt.stop()


if __name__ == "__main__":
    main()
