"""Timing and reporting helpers shared by the benchmarks."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

T = TypeVar("T")


def median_time(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of `repeats` calls of fn, in seconds."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    """fn's result and its wall time in seconds: one measured call without the perf_counter bookkeeping."""
    t = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - t


def load_average_line() -> str:
    """The machine's load next to the numbers: a shared, busy machine explains a missed goal."""
    return f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs"


def goal_line(met: bool, fields: str) -> str:
    """The last line every bench prints, which scripts and people grep: goal_met=<true|false> then the numbers."""
    return f"goal_met={'true' if met else 'false'} {fields}"


def kube_ts(dt: datetime) -> str:
    """dt as the Kubernetes API writes timestamps (RFC 3339, seconds, Z), for the synthetic objects."""
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")
