"""A tiny thread-safe time-to-live cache: one upstream call per key per interval, whoever asks.

Why a lock-free hit path: the API answers hundreds of concurrent readers from this cache; a fresh entry is read
with one dict lookup (atomic in CPython), and only a miss takes the key's lock so concurrent misses of one key
load once. `max_entries` bounds the memory a stream of distinct keys (say, bad tokens) can take.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class TtlCache(Generic[T]):
    def __init__(
        self, ttl_seconds: float, clock: Callable[[], float] = time.monotonic, max_entries: int = 10_000
    ) -> None:
        self.ttl = ttl_seconds
        self.clock = clock
        self.max_entries = max_entries
        self._data: dict[Hashable, tuple[float, T]] = {}
        self._locks: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    def _fresh(self, key: Hashable) -> tuple[float, T] | None:
        hit = self._data.get(key)
        return hit if hit is not None and self.clock() - hit[0] < self.ttl else None

    def get(self, key: Hashable, load: Callable[[], T]) -> T:
        """The cached value while fresh; else load() once (concurrent callers of one key wait for it).
        An exception from load() is not cached."""
        hit = self._fresh(key)
        if hit is not None:
            return hit[1]
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            hit = self._fresh(key)
            if hit is not None:
                return hit[1]
            try:
                value = load()
            except BaseException:
                with self._guard:  # nothing kept for a key that never loaded (a flood of bogus keys)
                    if key not in self._data:
                        self._locks.pop(key, None)
                raise
            with self._guard:
                if len(self._data) >= self.max_entries and key not in self._data:
                    self._evict()
                self._data[key] = (self.clock(), value)
            return value

    def _evict(self) -> None:
        """Drop stale entries; if all are fresh, start over (a flood of distinct keys, not a working set)."""
        now = self.clock()
        stale = [k for k, (at, _) in self._data.items() if now - at >= self.ttl]
        for k in stale or list(self._data):
            self._data.pop(k, None)
            self._locks.pop(k, None)
