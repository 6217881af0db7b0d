"""A tiny thread-safe time-to-live cache: one upstream call per key per interval, whoever asks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class TtlCache(Generic[T]):
    def __init__(self, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl_seconds
        self.clock = clock
        self._data: dict[Hashable, tuple[float, T]] = {}
        self._locks: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, key: Hashable, load: Callable[[], T]) -> T:
        """The cached value while fresh; else load() once (concurrent callers of one key wait for it).
        An exception from load() is not cached."""
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            hit = self._data.get(key)
            if hit is not None and self.clock() - hit[0] < self.ttl:
                return hit[1]
            value = load()
            self._data[key] = (self.clock(), value)
            return value
