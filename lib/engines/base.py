"""What every engine offers its callers (runtime, pages, the sampler): the embedded worker pool and Argo Workflows
both implement it, so nothing above the engines asks which one it has."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from lib.core.dag import DagView


@dataclass(frozen=True)
class PoolStats:
    """Scan capacity now: workers in this process (0 in argo mode, where pods run scans), scans running, queued."""

    workers: int
    busy: int
    queued: int


class Engine(Protocol):
    """Where confirmed scans run: the embedded worker pool or Argo Workflows."""

    def submit(self, scan_id: str) -> None:
        """Hand over a confirmed (queued) scan; idempotent on the scan id."""

    def progress(self, scan_id: str) -> DagView:
        """The scan's DAG with each step's state, for the progress page."""

    def stats(self) -> PoolStats:
        """Running and queued scans, for the cluster page and its sampler."""

    def start(self) -> None: ...

    def stop(self) -> None: ...
