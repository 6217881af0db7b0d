"""Benchmark: the history page over 100,000 synthetic scans with findings (one year, 6,000 hosts).

Why: managers open the page with filters over a year of scans; every KPI, chart and the table must come back
fast. Goals: <= 1 s cold (the page's cache empty for this filter set: aggregates + figures + table rows) and
<= 150 ms warm (the page's st.cache_data / st.cache_resource hits, as views/history.py does it).

"Cold" here means the page cache is cold; the process's ScanFacts store (lib/insights/history_queries.py) is already
loaded, as it
is in a running portal after its first history view. The one-time load of that store at process start is printed
as load_s, and process_cold_s = load_s + cold_s is what the very first viewer after a restart waits.

Peer: SELECT count(*) and a full read of the scans' ids in the same database, measured in the same run, so the
ratio says how the work compares with merely touching every scan row on this machine.

Run: .venv/bin/python bench/history.py [--scans N] [--db PATH]   (last line: goal_met=<true|false> cold_s=.. ...)
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import statistics
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from bench.timing import goal_line, load_average_line, median_time, timed
from lib.adapters.db import make_engine, migrate, session_factory
from lib.adapters.models import FindingRecord, Scan, Step
from lib.core.pipeline import SCANNERS
from lib.insights.history_aggregates import HistoryView, history_view
from lib.insights.history_charts import history_figures
from lib.insights.history_queries import HistoryFilters, ScanFacts, export_csv

GOAL_COLD_S = 1.0
GOAL_WARM_S = 0.150
STATUSES = (
    ["succeeded"] * 70
    + ["partial"] * 15
    + ["failed"] * 8
    + ["running"] * 3
    + ["queued"] * 2
    + ["awaiting_confirmation"] * 2
)
SEVERITY_MEANS = {"critical": 0.1, "high": 0.4, "medium": 1.0, "low": 1.2, "info": 1.5}


def _confirmed_and_started(
    rng: random.Random, requested: datetime, status: str
) -> tuple[datetime | None, datetime | None]:
    """When the requester confirmed (minutes later, never while awaiting) and the scan started (not if queued)."""
    confirmed = requested + timedelta(seconds=rng.expovariate(1 / 300)) if status != "awaiting_confirmation" else None
    started = confirmed + timedelta(seconds=rng.uniform(1, 30)) if confirmed and status != "queued" else None
    return confirmed, started


def _scanner_steps(
    rng: random.Random, sid: str, chosen: list[str], started: datetime | None, status: str, t: datetime
) -> tuple[list[dict[str, Any]], datetime]:
    """One step per scanner (skipped, pending, or run with a lognormal duration and, in partial/failed scans,
    a coin-flip failure); returns the steps and when the last scanner finished (t if none ran)."""
    steps: list[dict[str, Any]] = []
    for name in SCANNERS:
        if name not in chosen:
            steps.append({"scan_id": sid, "name": name, "state": "skipped", "message": "not requested"})
            continue
        if started is None:
            steps.append({"scan_id": sid, "name": name, "state": "pending"})
            continue
        dur = {"portscan": 40, "web": 120, "tls": 15}[name] * rng.lognormvariate(0, 0.5)
        fail = status in ("partial", "failed") and rng.random() < 0.5
        steps.append(
            {
                "scan_id": sid,
                "name": name,
                "state": "failed" if fail else "succeeded",
                "tool": name,
                "started_at": started,
                "finished_at": started + timedelta(seconds=dur),
            }
        )
        t = max(t, started + timedelta(seconds=dur))
    return steps, t


def _counts(rng: random.Random, status: str) -> tuple[dict[str, int], dict[str, int]]:
    """Severity and diff counts of a scan that produced a report (succeeded or partial); empty otherwise."""
    if status not in ("succeeded", "partial"):
        return {}, {}
    counts = {s: int(rng.expovariate(1 / m)) if m else 0 for s, m in SEVERITY_MEANS.items()}
    diff = {"new": rng.randrange(3), "fixed": rng.randrange(3), "unchanged": sum(counts.values())}
    return counts, diff


def _finding_rows(sid: str, host: str, counts: dict[str, int]) -> list[dict[str, Any]]:
    """The finding rows behind the severity counts, so the page's open-findings numbers have rows to count."""
    return [
        {
            "scan_id": sid,
            "host": host,
            "tool": "web",
            "rule_id": f"R{j}",
            "title": f"{sev} issue {j}",
            "severity": sev,
            "rule_fp": f"{sev}{j}",
            "issue_fp": f"{host}{sev}{j}",
            "diff_state": "unchanged",
            "data": {"severity": sev, "title": f"{sev} issue {j}"},
        }
        for sev, k in counts.items()
        for j in range(k)
    ]


def _tail_steps(sid: str, t: datetime, finished: datetime | None) -> list[dict[str, Any]]:
    """report, publish and notify: done at t when the scan finished, pending otherwise."""
    return [
        {
            "scan_id": sid,
            "name": name,
            "state": "succeeded" if finished else "pending",
            "started_at": t if finished else None,
            "finished_at": finished,
        }
        for name in ("report", "publish", "notify")
    ]


def _synthetic_scan(
    i: int, rng: random.Random, now: datetime, days: int, hosts: int
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """Scan i (a random host, time in the last `days` days and status) with its step and finding rows."""
    sid = f"{i:012x}"
    host = f"app{rng.randrange(hosts)}.{rng.choice(['example.com', 'example.org', 'corp.example.net'])}"
    requested = now - timedelta(seconds=rng.uniform(0, days * 86400))
    status = rng.choice(STATUSES)
    chosen = [s for s in SCANNERS if rng.random() < 0.7] or ["web"]
    confirmed, started = _confirmed_and_started(rng, requested, status)
    steps, t = _scanner_steps(rng, sid, chosen, started, status, started or requested)
    finished = None
    if status in ("succeeded", "partial", "failed") and started is not None:
        finished = t + timedelta(seconds=rng.uniform(2, 10))
    counts, diff = _counts(rng, status)
    finds = _finding_rows(sid, host, counts)
    steps += _tail_steps(sid, t, finished)
    scan = {
        "id": sid,
        "target": f"https://{host}/",
        "host": host,
        "requester_email": f"user{rng.randrange(200)}@example.com",
        "scanners": {c: {} for c in chosen},
        "status": status,
        "created_at": requested,
        "confirmed_at": confirmed,
        "started_at": started,
        "finished_at": finished,
        "severity_counts": counts,
        "diff_counts": diff,
        "report_key": f"reports/{sid}/" if counts else "",
    }
    return scan, steps, finds


def populate(sessions, n: int, days: int = 365, hosts: int = 2000, seed: int = 7) -> int:
    """n scans over `days` days with their steps, severity/diff counts and finding rows; returns finding rows."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    nfind = 0
    batch = 5000  # rows per INSERT transaction: bounded memory, few commits
    for lo in range(0, n, batch):
        scans: list[dict[str, Any]] = []
        steps: list[dict[str, Any]] = []
        finds: list[dict[str, Any]] = []
        for i in range(lo, min(n, lo + batch)):
            scan, scan_steps, scan_finds = _synthetic_scan(i, rng, now, days, hosts)
            scans.append(scan)
            steps += scan_steps
            finds += scan_finds
        with sessions.begin() as s:
            s.execute(insert(Scan), scans)
            s.execute(insert(Step), steps)
            if finds:
                s.execute(insert(FindingRecord), finds)
        nfind += len(finds)
    return nfind


def _parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scans", type=int, default=100_000)
    ap.add_argument("--db", default="", help="reuse this SQLite file when it already holds --scans scans")
    return ap.parse_args()


def _open_database(db_path: str, scans: int) -> sessionmaker[Session]:
    """The bench database (a fresh temporary one unless --db), holding exactly `scans` synthetic scans: an
    existing file with another number of scans is emptied and repopulated."""
    path = Path(db_path) if db_path else Path(tempfile.mkdtemp(prefix="bench-history-")) / "bench.db"
    db = make_engine(f"sqlite:///{path.resolve()}")
    migrate(db)
    sessions = session_factory(db)
    with sessions() as s:
        have = s.scalar(select(func.count()).select_from(Scan)) or 0
    if have == scans:
        print(f"reusing {path}: {have:,} scans")
        return sessions
    with sessions.begin() as s:
        for model in (FindingRecord, Step, Scan):
            s.execute(delete(model))
    nfind, populate_s = timed(lambda: populate(sessions, scans))
    print(f"populated {scans:,} scans, {nfind:,} findings in {populate_s:.1f} s")
    return sessions


def _peer_seconds(sessions: sessionmaker[Session]) -> float:
    """The peer: count the scans and read every scan id, i.e. merely touch every scan row once."""
    with sessions() as s:

        def touch_every_row() -> None:
            s.scalar(select(func.count()).select_from(Scan))
            s.connection().execute(select(Scan.id)).fetchall()

        return timed(touch_every_row)[1]


def _view_and_figures(facts: ScanFacts, filters: HistoryFilters) -> HistoryView:
    """What the page computes for a filter set it has not cached: the view, then its figures."""
    view = history_view(facts, filters)
    history_figures(view)
    return view


@dataclass
class _Cold:
    """Page-cache-cold timings: the whole year (three distinct filter keys) and the default 30 days."""

    year: list[HistoryFilters]
    runs: list[float]
    view: HistoryView
    default_view: HistoryView
    default_s: float

    @property
    def median_s(self) -> float:
        return statistics.median(self.runs)


def _time_cold(facts: ScanFacts, today: date) -> _Cold:
    """The cold page over the whole year, three times with different keys (all scans), and the default view."""
    year = [HistoryFilters(start=today - timedelta(days=366 + i), end=today) for i in range(3)]
    runs = []
    for f in year:
        view, seconds = timed(partial(_view_and_figures, facts, f))
        runs.append(seconds)
    default_view, default_s = timed(lambda: _view_and_figures(facts, HistoryFilters.default()))
    return _Cold(year, runs, view, default_view, default_s)


def _warm_seconds(facts: ScanFacts, filters: HistoryFilters) -> float:
    """A page-cache hit, through exactly the page's caches (st.cache_data for the view, st.cache_resource for
    the figures, as views/history.py does it)."""
    os.environ.setdefault("STREAMLIT_LOGGER_LEVEL", "error")  # bare mode: no "no runtime" warnings
    import streamlit as st

    @st.cache_data(ttl=60)
    def cached_view(key: tuple) -> HistoryView:
        return history_view(facts, HistoryFilters.from_query_params(dict(key)))

    @st.cache_resource(ttl=60)
    def cached_figures(key: tuple) -> dict:
        return history_figures(cached_view(key))

    key = tuple(sorted(filters.to_query_params().items()))
    cached_figures(key)
    return median_time(lambda: (cached_view(key), cached_figures(key)), 7)


@dataclass
class _Measured:
    """Every number the bench prints."""

    scans: int
    load_s: float
    cold: _Cold
    warm_s: float
    refresh_s: float
    csv_s: float
    csv_mb: float
    peer_s: float


def _report(m: _Measured) -> bool:
    """Print the measurements and the goal line; True when the goal is met."""
    k, cold_s = m.cold.view.kpis, m.cold.median_s
    print(
        f"scans={k.scans:,} finished={k.finished:,} targets={k.targets:,} success={k.success_rate:.1%} "
        f"median_duration={k.median_duration_s:.0f}s open={k.open_by_severity}"
    )
    print(f"default 30-day view: {m.cold.default_view.kpis.scans:,} scans")
    print(f"facts load (once per process): {m.load_s:.3f} s; incremental refresh: {m.refresh_s:.3f} s")
    print(
        f"cold (page cache empty), whole year: runs {[round(c, 3) for c in m.cold.runs]} -> median {cold_s:.3f} s "
        f"(goal <= {GOAL_COLD_S} s); default 30 days: {m.cold.default_s:.3f} s"
    )
    print(f"warm (page cache hit): {m.warm_s * 1000:.1f} ms (goal <= {GOAL_WARM_S * 1000:.0f} ms)")
    print(f"process cold start (load + cold): {m.load_s + cold_s:.3f} s")
    print(f"CSV export of all rows (deferred download): {m.csv_s:.2f} s, {m.csv_mb:.1f} MB")
    print(f"peer (count + read every id): {m.peer_s:.3f} s; cold/peer = {cold_s / m.peer_s:.1f}x")
    print(load_average_line())
    met = cold_s <= GOAL_COLD_S and m.warm_s <= GOAL_WARM_S
    print(
        goal_line(
            met,
            f"scans={m.scans} cold_s={cold_s:.3f} warm_ms={m.warm_s * 1000:.1f} "
            f"cold_default_s={m.cold.default_s:.3f} load_s={m.load_s:.3f} process_cold_s={m.load_s + cold_s:.3f} "
            f"refresh_s={m.refresh_s:.3f} csv_s={m.csv_s:.2f} peer_s={m.peer_s:.3f}",
        )
    )
    return met


def main() -> int:
    args = _parse_args()
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    sessions = _open_database(args.db, args.scans)
    peer_s = _peer_seconds(sessions)
    # Warm-up on a tiny filter set: imports, plotly's first-figure cost (paid once by any running portal).
    today = datetime.now(UTC).date()  # HistoryFilters.default()'s end
    facts = ScanFacts(sessions, ttl_s=3600)
    _, load_s = timed(facts.frame)
    history_figures(history_view(facts, HistoryFilters(start=today, end=today)))
    cold = _time_cold(facts, today)
    assert cold.view.kpis.scans == args.scans, cold.view.kpis.scans
    warm_s = _warm_seconds(facts, cold.year[0])
    # An incremental refresh of the facts (what a viewer may wait for once per TTL) and the deferred CSV export.
    facts.ttl_s = 0
    refresh_s = median_time(facts.frame, 3)
    csv_bytes, csv_s = timed(lambda: export_csv(sessions, cold.year[0]))
    met = _report(_Measured(args.scans, load_s, cold, warm_s, refresh_s, csv_s, len(csv_bytes) / 1e6, peer_s))
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
