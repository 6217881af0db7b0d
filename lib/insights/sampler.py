"""The cluster sampler: one background thread per process that records, every `interval_s`, where scans run —
node counts per group and capacity type, pending pods and running scan pods (argo mode), or the local worker pool
(embedded mode) — into cluster_samples, and deletes rows older than the retention.

Why in the database: the cluster page shows how the cluster scaled under the scans over hours and days, across
restarts and for every viewer, without each viewer polling the API.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy import String, delete, func, insert, select, type_coerce
from sqlalchemy.orm import Session, sessionmaker

from lib.adapters.background import BackgroundLoop
from lib.adapters.lease import Lease
from lib.adapters.models import ClusterSample, Scan
from lib.engines.base import Engine
from lib.insights.cluster_frames import snapshot_samples
from lib.insights.cluster_snapshot import ClusterSnapshots

log = logging.getLogger(__name__)

Sample = tuple[str, str, str, float]  # metric, group, capacity_type, value
Probe = Callable[[], list[Sample]]


def pool_probe(engine: Engine) -> Probe:
    """Embedded mode: the local engine's workers busy / idle and its queue length."""

    def probe() -> list[Sample]:
        stats = engine.stats()
        return [
            ("workers_busy", "", "", float(stats.busy)),
            ("workers_idle", "", "", float(stats.workers - stats.busy)),
            ("queue_length", "", "", float(stats.queued)),
        ]

    return probe


def cluster_probe(snapshots: ClusterSnapshots) -> Probe:
    """Argo mode: counts from the shared snapshot; nothing when the API is down or the snapshot was recorded."""
    recorded: list[datetime] = []

    def probe() -> list[Sample]:
        state = snapshots.get()
        snap = state.snapshot
        if state.error or snap is None or (recorded and recorded[-1] >= snap.taken_at):
            return []
        recorded[:] = [snap.taken_at]
        return snapshot_samples(snap)

    return probe


class Sampler:
    """Records probe() every interval_s (the first one at start) and prunes rows older than retention_hours."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        probe: Probe,
        interval_s: float,
        retention_hours: float,
        lease: Lease | None = None,
    ) -> None:
        self.sessions = sessions
        self.probe = probe
        self.interval_s = interval_s
        self.retention = timedelta(hours=retention_hours)
        self.lease = lease  # replicas: only the holder samples, so there is one sample per period
        self._loop = BackgroundLoop(
            "cluster-sampler",
            self._sample_if_due,
            interval_s,
            only_while=lease.hold if lease else None,
            join_timeout_s=10,
        )

    def _sample_if_due(self) -> int:
        """A sample, unless another replica sampled in the last half period (a lease just handed over)."""
        now = datetime.now(UTC)
        with self.sessions() as s:
            last = s.scalar(select(func.max(ClusterSample.taken_at)))
        if last is not None and _aware(last) > now - timedelta(seconds=self.interval_s / 2):
            return 0
        return self.sample_once(now)

    def sample_once(self, now: datetime | None = None) -> int:
        """Take and store one sample; returns the number of rows written."""
        now = now or datetime.now(UTC)
        rows = [
            {"taken_at": now, "metric": m, "group": g, "capacity_type": c, "value": v} for m, g, c, v in self.probe()
        ]
        with self.sessions.begin() as s:
            if rows:
                s.execute(insert(ClusterSample), rows)
            s.execute(delete(ClusterSample).where(ClusterSample.taken_at < now - self.retention))
        return len(rows)

    def start(self) -> Sampler:
        self._loop.start()
        return self

    def stop(self) -> None:
        self._loop.stop()
        if self.lease is not None:
            self.lease.release()


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


# ------------------------------------------------------------------------------------------------ reads


def samples_frame(sessions: sessionmaker[Session], since: datetime) -> pd.DataFrame:
    """taken_at, metric, group, capacity_type, value of every sample since `since`, oldest first."""
    q = (
        select(
            type_coerce(ClusterSample.taken_at, String),
            ClusterSample.metric,
            ClusterSample.group,
            ClusterSample.capacity_type,
            ClusterSample.value,
        )
        .where(ClusterSample.taken_at >= since)
        .order_by(ClusterSample.taken_at, ClusterSample.id)
    )
    with sessions() as s:
        rows = s.connection().execute(q).fetchall()
    frame = pd.DataFrame(rows, columns=["taken_at", "metric", "group", "capacity_type", "value"])
    frame["taken_at"] = pd.to_datetime(frame["taken_at"].astype(object), utc=True, format="ISO8601")
    return frame


def scan_starts(sessions: sessionmaker[Session], since: datetime) -> pd.DataFrame:
    """scan, started: scans that started since `since` (the marks on the node-count chart)."""
    with sessions() as s:
        rows = s.execute(
            select(Scan.id, Scan.started_at).where(Scan.started_at >= since).order_by(Scan.started_at)
        ).all()
    return pd.DataFrame(rows, columns=["scan", "started"])
