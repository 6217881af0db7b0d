"""The shape of the running app's services, so lib modules can take them without importing their builders."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from sqlalchemy.orm import Session, sessionmaker

from lib.adapters.mail import Mailer
from lib.adapters.storage import ReportStore
from lib.config import Settings

if TYPE_CHECKING:
    from lib.core.dag import DagView


class Engine(Protocol):
    """Where confirmed scans run: the embedded worker pool or Argo Workflows."""

    def submit(self, scan_id: str) -> None:
        """Hand over a confirmed (queued) scan; idempotent on the scan id."""

    def progress(self, scan_id: str) -> DagView:
        """The scan's DAG with each step's state, for the progress page."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


class Services(Protocol):
    settings: Settings
    sessions: sessionmaker[Session]
    mailer: Mailer
    store: ReportStore
    engine: Engine
