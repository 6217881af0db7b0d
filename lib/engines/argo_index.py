"""One labelled list of the scan Workflows per interval, shared by the sync loop and every viewer.

Why: GETting each running scan's Workflow every couple of seconds costs a request per scan per interval
(1,000 running scans ~ 500 requests/s per portal replica). One `list` with the Sensor's label answers every
question of the interval: which Workflows exist, and each one's status.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from lib.adapters.kube import Kube, KubeError
from lib.core.ttl_cache import TtlCache

# Set on every Workflow the Sensor creates (k8s/base/events/sensor.yaml).
SCAN_WORKFLOW_SELECTOR = "app.kubernetes.io/name=scanboard-scan"


class WorkflowIndex:
    """The scan Workflows by name, listed at most once per `ttl_seconds` whoever asks."""

    def __init__(
        self,
        kube: Callable[[], Kube],
        ttl_seconds: float,
        selector: str = SCAN_WORKFLOW_SELECTOR,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._kube = kube
        self._selector = selector
        self._cache = TtlCache[dict[str, dict]](ttl_seconds, clock)

    def _load(self) -> dict[str, dict]:
        items = self._kube().list_workflows(label_selector=self._selector)
        return {(wf.get("metadata") or {}).get("name", ""): wf for wf in items}

    def snapshot(self) -> dict[str, dict]:
        """Every scan Workflow of this interval; raises KubeError when the API cannot be read."""
        return self._cache.get("workflows", self._load)

    def get(self, name: str) -> dict:
        """One Workflow from the interval's list; KubeError(reason="not_found") when it does not exist."""
        wf = self.snapshot().get(name)
        if wf is None:
            raise KubeError(
                f"Not found: Workflow {name!r} (not among the scan Workflows).", reason="not_found", status=404
            )
        return wf
