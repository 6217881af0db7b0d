"""The API's audit log: one appended row per call (who, what, the answer's status).

Calls are queued in memory and a writer thread appends them in batches: a commit (an fsync in SQLite) per call
would cap the API at a few hundred calls a second, all waiting on one write lock. At low load a row is written
milliseconds after its call; stop() writes whatever is still queued.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from lib.adapters.models import ApiAudit, utcnow

log = logging.getLogger(__name__)
MAX_BATCH = 500


@dataclass(frozen=True)
class ApiCall:
    method: str
    path: str
    status: int
    token_prefix: str = ""
    owner_email: str = ""
    client: str = ""
    scan_id: str = ""
    at: datetime = field(default_factory=utcnow)

    def row(self) -> dict[str, object]:
        return {
            "at": self.at,
            "token_prefix": self.token_prefix[:16],
            "owner_email": self.owner_email[:320],
            "method": self.method[:8],
            "path": self.path[:512],
            "status": self.status,
            "client": self.client[:64],
            "scan_id": self.scan_id[:32],
        }


def write_calls(sessions: sessionmaker[Session], calls: list[ApiCall]) -> None:
    """Append calls in one transaction."""
    if calls:
        with sessions.begin() as s:
            s.execute(insert(ApiAudit), [c.row() for c in calls])


class AuditLog:
    """Queues calls; a daemon thread appends them in batches until stop()."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self._queue: queue.Queue[ApiCall | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="api-audit", daemon=True)

    def start(self) -> AuditLog:
        self._thread.start()
        return self

    def record(self, call: ApiCall) -> None:
        self._queue.put(call)

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch: list[ApiCall] = []
            item = self._queue.get()
            while item is not None and len(batch) < MAX_BATCH:
                batch.append(item)
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            stopping = item is None
            try:
                write_calls(self.sessions, batch)
            except Exception:  # one failed batch must not stop the log; it is logged
                log.exception("writing %d API audit rows failed", len(batch))


def api_calls(
    sessions: sessionmaker[Session], token_prefix: str = "", owner_email: str = "", limit: int = 200
) -> list[ApiAudit]:
    """Newest first; only one token's, or one owner's, calls when given."""
    with sessions() as s:
        q = select(ApiAudit).order_by(ApiAudit.id.desc()).limit(limit)
        if token_prefix:
            q = q.where(ApiAudit.token_prefix == token_prefix)
        if owner_email:
            q = q.where(ApiAudit.owner_email == owner_email.lower())
        return list(s.scalars(q))
