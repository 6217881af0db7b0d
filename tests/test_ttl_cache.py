"""The TTL cache the API's auth and status reads stand on: one load per key per interval, bounded, and a failed
load is retried rather than remembered."""

from __future__ import annotations

import threading

import pytest

from lib.core.ttl_cache import TtlCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_one_load_per_interval_then_reload_after_ttl() -> None:
    clock, loads = Clock(), []
    cache = TtlCache[int](1.0, clock)

    def load() -> int:
        loads.append(clock.now)
        return len(loads)

    assert [cache.get("k", load) for _ in range(5)] == [1] * 5
    clock.now += 0.99
    assert cache.get("k", load) == 1
    clock.now += 0.02
    assert cache.get("k", load) == 2
    assert len(loads) == 2


def test_concurrent_misses_of_one_key_load_once() -> None:
    started, release, loads = threading.Event(), threading.Event(), []
    cache = TtlCache[str](60.0)

    def slow_load() -> str:
        loads.append(1)
        started.set()
        release.wait(5)
        return "v"

    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(cache.get("k", slow_load))) for _ in range(8)]
    for t in threads:
        t.start()
    assert started.wait(5)
    release.set()
    for t in threads:
        t.join(5)
    assert results == ["v"] * 8 and len(loads) == 1


def test_exceptions_are_not_cached() -> None:
    cache = TtlCache[int](60.0)
    calls = []

    def flaky() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("database away")
        return 7

    with pytest.raises(ConnectionError):
        cache.get("k", flaky)
    assert cache.get("k", flaky) == 7 and len(calls) == 2


def test_distinct_keys_cannot_grow_it_past_its_bound() -> None:
    clock = Clock()
    cache = TtlCache[int](10.0, clock, max_entries=100)
    for i in range(1000):
        cache.get(f"bad-token-{i}", lambda i=i: i)  # type: ignore[misc]
        clock.now += 0.001
    assert len(cache) <= 100
    assert cache.get("bad-token-999", lambda: -1) == 999  # the newest key survived the eviction


def test_eviction_drops_stale_entries_before_fresh_ones() -> None:
    clock = Clock()
    cache = TtlCache[str](1.0, clock, max_entries=3)
    cache.get("old", lambda: "old")
    clock.now += 2  # "old" is now stale
    cache.get("a", lambda: "a")
    cache.get("b", lambda: "b")
    cache.get("c", lambda: "c")  # full: the stale one goes, the fresh ones stay
    assert len(cache) == 3
    assert [cache.get(k, lambda: "reloaded") for k in ("a", "b", "c")] == ["a", "b", "c"]


def test_failed_loads_of_distinct_keys_leave_nothing_behind() -> None:
    """While the database is away, every request with a new bogus token fails its load: the cache must not keep
    anything per such key (a flood of them would otherwise grow the process without bound)."""
    import tracemalloc

    cache = TtlCache[int](60.0, max_entries=100)

    def database_away() -> int:
        raise ConnectionError("database away")

    def flood(n: int, prefix: str) -> None:
        for i in range(n):
            with pytest.raises(ConnectionError):
                cache.get(f"{prefix}-{i}", database_away)

    flood(100, "warm-up")  # first-use allocations of the exception machinery
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        flood(20_000, "bogus-token")
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 100_000, f"{grown:,} bytes kept for 20,000 failed keys"
    assert cache.get("bogus-token-1", lambda: 5) == 5 and len(cache) == 1
