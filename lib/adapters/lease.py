"""Leader leases: with several portal replicas on one PostgreSQL, a background duty (the argo sync loop, the
cluster sampler, the runtime's housekeeping) runs on the one replica holding its lease row. The holder renews it
every pass; when it stops (released) or dies (expired after `ttl`), another replica takes over. On SQLite the
portal and the API are two processes on one file: the same row decides between them.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from lib.adapters.models import Lease as LeaseRow
from lib.adapters.models import utcnow


def holder_id() -> str:
    """This process, recognisably (host and pid) and uniquely (a restarted pid is a new holder)."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    def __init__(self, sessions: sessionmaker[Session], name: str, ttl_s: float, holder: str = "") -> None:
        self.sessions = sessions
        self.name = name
        self.ttl = timedelta(seconds=ttl_s)
        self.holder = holder or holder_id()

    def hold(self, now: datetime | None = None) -> bool:
        """Take or renew the lease; True while this process is the leader. One UPDATE decides among
        replicas racing for an expired lease (PostgreSQL re-checks the WHERE on the row the winner wrote)."""
        now = now or utcnow()
        with self.sessions.begin() as s:
            res = s.execute(
                update(LeaseRow)
                .where(LeaseRow.name == self.name, or_(LeaseRow.holder == self.holder, LeaseRow.expires_at < now))
                .values(holder=self.holder, expires_at=now + self.ttl)
            )
            if res.rowcount == 1:  # type: ignore[attr-defined]
                return True
            insert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
            created = s.execute(
                insert(LeaseRow)
                .values(name=self.name, holder=self.holder, expires_at=now + self.ttl)
                .on_conflict_do_nothing(index_elements=["name"])
            )
            return created.rowcount == 1  # type: ignore[attr-defined]

    def release(self) -> None:
        """Let another replica take over at once (a clean stop), if this process holds the lease."""
        with self.sessions.begin() as s:
            s.execute(
                update(LeaseRow)
                .where(LeaseRow.name == self.name, LeaseRow.holder == self.holder)
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
