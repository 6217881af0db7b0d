"""Operators' view of the cluster, the reading half: one snapshot of Nodes, Pods, cluster-autoscaler Events and its
status ConfigMap, read through lib.adapters.kube, and the store that shares it (lib.insights.cluster_frames turns it
into pandas frames and plotly figures).

Why a shared snapshot: every viewer's page and the sampler read the same `ClusterSnapshots`, which lists each
resource at most once per interval whatever the number of viewers (goal P4), and keeps the last good snapshot to
show (with its time) when the API is unreachable.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from lib.adapters.kube import Kube, KubeError
from lib.core.text import md_escape

AUTOSCALER_REASONS = ("TriggeredScaleUp", "NotTriggerScaleUp", "ScaleDown")
AUTOSCALER_STATUS = ("kube-system", "cluster-autoscaler-status")
LIVE_PHASES = "status.phase!=Succeeded,status.phase!=Failed"  # pods that hold (or wait for) node resources


# ------------------------------------------------------------------------------------------------ snapshot


@dataclass(frozen=True)
class ClusterSnapshot:
    """What the API said at `taken_at`, as the API's own dicts. `warnings`: optional reads that failed."""

    taken_at: datetime
    nodes: list[dict]
    pods: list[dict]
    events: list[dict]
    autoscaler_status: str | None
    api_requests: int
    warnings: tuple[str, ...] = ()


def take_snapshot(kube: Kube, now: datetime | None = None) -> ClusterSnapshot:
    """One list per resource: nodes, live pods in every namespace, autoscaler events; one get of the autoscaler's
    status ConfigMap. Nodes and pods are required (KubeError); events and the ConfigMap are optional."""
    nodes = kube.list_nodes()
    pods = kube.list_pods(field_selector=LIVE_PHASES, all_namespaces=True)
    warnings: list[str] = []
    try:
        events = [
            e
            for e in kube.list_events(field_selector="source=cluster-autoscaler", all_namespaces=True)
            if e.get("reason") in AUTOSCALER_REASONS
        ]
    except KubeError as e:
        events, warnings = [], [*warnings, e.message]
    status: str | None = None
    try:
        cm = kube.get_configmap(AUTOSCALER_STATUS[1], namespace=AUTOSCALER_STATUS[0])
        status = (cm.get("data") or {}).get("status")
    except KubeError as e:
        if e.reason != "not_found":
            warnings.append(e.message)
    return ClusterSnapshot(now or datetime.now(UTC), nodes, pods, events, status, 4, tuple(warnings))


@dataclass(frozen=True)
class SnapshotState:
    """The newest good snapshot (None before the first success) and, when the last attempt failed, why."""

    snapshot: ClusterSnapshot | None
    error: str | None = None
    error_reason: str | None = None
    attempted_at: datetime | None = None


class ClusterSnapshots:
    """One snapshot per interval for the whole process (all viewers and the sampler), single-flight.

    `get()` returns the cached state while it is younger than `interval_s`; otherwise one caller refreshes it while
    the others wait for that result. A failed refresh keeps the last good snapshot and is also throttled to one
    attempt per interval, so a dead API is not hammered by every viewer.
    """

    def __init__(
        self, kube: Callable[[], Kube], interval_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._kube = kube  # the process's one client (the runtime's SharedKube.get), which owns and closes it
        self.interval_s = interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._state = SnapshotState(None)
        self._at = float("-inf")
        self.attempts = 0

    def get(self) -> SnapshotState:
        with self._lock:
            if self._clock() - self._at < self.interval_s:
                return self._state
            self._at = self._clock()
            self.attempts += 1
            now = datetime.now(UTC)
            try:
                self._state = SnapshotState(take_snapshot(self._kube(), now), attempted_at=now)
            except KubeError as e:
                self._state = SnapshotState(self._state.snapshot, e.message, e.reason, now)
            return self._state


def read_error_text(state: SnapshotState) -> str:
    """The banner when the API could not be read: the (escaped) error and whether older data is still shown."""
    snap = state.snapshot
    last = (
        f"Showing the last good snapshot, from {snap.taken_at:%Y-%m-%d %H:%M:%S} UTC."
        if snap
        else "No snapshot has been read yet."
    )
    return f"Cannot read the cluster from the Kubernetes API: {md_escape(state.error)} {last}"
