"""The API's audit log: one appended row per call (who, what, the answer's status).

Calls are collected in memory and written in batches every 0.1 s: a commit (an fsync in SQLite) per call would
cap the API at a few hundred calls a second, all waiting on one write lock, and waking a writer per call costs
the request path. A row is written within about 0.1 s of its call; stop() writes whatever is still pending.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session, sessionmaker

from lib.adapters.background import BackgroundLoop
from lib.adapters.models import ApiAudit, utcnow

log = logging.getLogger(__name__)
MAX_BATCH = 500
AUDIT_TABLE = cast(Table, ApiAudit.__table__)
FLUSH_EVERY_S = 0.1


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
            s.execute(insert(AUDIT_TABLE), [c.row() for c in calls])  # Core executemany: no ORM bulk insert


class AuditLog:
    """Collects calls in memory; a background loop appends them in batches every FLUSH_EVERY_S until stop()."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self._pending: deque[ApiCall] = deque()
        self._loop = BackgroundLoop("api-audit", self.flush, FLUSH_EVERY_S)

    def start(self) -> AuditLog:
        self._loop.start()
        return self

    def record(self, call: ApiCall) -> None:
        """O(1) and lock-free (deque.append is atomic): the request never waits for the database."""
        self._pending.append(call)

    def stop(self) -> None:
        self._loop.stop()
        self.flush()

    def flush(self) -> None:
        """Write what is pending, MAX_BATCH rows per transaction; a failed batch is logged, the log goes on."""
        while self._pending:
            batch = [self._pending.popleft() for _ in range(min(MAX_BATCH, len(self._pending)))]
            try:
                write_calls(self.sessions, batch)
            except Exception:
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
