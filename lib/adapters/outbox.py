"""Store first, then send, retry with backoff: the one delivery loop behind mail (lib/adapters/mail.py) and
notifications (lib/adapters/notify.py). A row is claimed by one UPDATE before it is sent, so of any number of
processes retrying at once exactly one sends it; a claim left by a process that died is taken again later."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from lib.adapters.models import MAIL_PENDING, MAIL_RETRYING, MAIL_SENT, utcnow
from lib.core.retry import backoff

log = logging.getLogger(__name__)
SENDING = "sending"
WAITING = (MAIL_PENDING, MAIL_RETRYING, SENDING)  # stored, not yet delivered
STUCK_SENDING = timedelta(minutes=5)  # a send claimed this long ago by a process that died is tried again

Row = TypeVar("Row")  # a model with id, status, attempts, last_error, next_attempt_at, sent_at


class RetryQueue(Generic[Row]):
    def __init__(self, sessions: sessionmaker[Session], model: type[Row], retry_seconds: float, what: str) -> None:
        self.sessions = sessions
        self.model: Any = model
        self.retry_seconds = retry_seconds
        self.what = what  # for the log: "mail", "notification"

    def _claimable(self, now: datetime, due_only: bool) -> Any:
        m = self.model
        retrying = m.status == MAIL_RETRYING
        return or_(
            m.status == MAIL_PENDING,
            retrying & (m.next_attempt_at <= now) if due_only else retrying,
            (m.status == SENDING) & (m.next_attempt_at <= now - STUCK_SENDING),
        )

    def claim(self, row_id: int, now: datetime) -> Row | None:
        """Mark the row as being sent (one more attempt); None if it is not waiting or another process won."""
        m = self.model
        with self.sessions.begin() as s:
            res = s.execute(
                update(m)
                .where(m.id == row_id, self._claimable(now, due_only=False))
                .values(status=SENDING, next_attempt_at=now, attempts=m.attempts + 1)
            )
            return cast(Row, s.get(m, row_id)) if cast(CursorResult, res).rowcount == 1 else None

    def attempt(self, row_id: int, send: Callable[[Row], None], now: datetime | None = None) -> bool:
        """Claim and send one stored row; True when it went out. A failure is kept and retried after backoff."""
        now = now or utcnow()
        row = self.claim(row_id, now)
        if row is None:
            return False
        try:
            send(row)
        except Exception as e:  # noqa: BLE001 - any failure of the far side: keep it, try later
            attempts = cast(Any, row).attempts
            reason = f"{type(e).__name__}: {e}"[:500]
            log.warning("%s %s not delivered (attempt %s): %s", self.what, row_id, attempts, reason)
            self._set(
                row_id,
                status=MAIL_RETRYING,
                last_error=reason,
                next_attempt_at=now + backoff(attempts, self.retry_seconds),
            )
            return False
        self._set(row_id, status=MAIL_SENT, sent_at=utcnow(), last_error="")
        return True

    def _set(self, row_id: int, **values: Any) -> None:
        with self.sessions.begin() as s:
            s.execute(update(self.model).where(self.model.id == row_id).values(**values))

    def due(self, now: datetime) -> list[int]:
        """The ids of rows whose next try is due, oldest first."""
        with self.sessions() as s:
            q = select(self.model.id).where(self._claimable(now, due_only=True)).order_by(self.model.id)
            return list(s.scalars(q))

    def retry_due(self, send: Callable[[Row], None], now: datetime | None = None) -> int:
        """Send every row whose next try is due; the number that went out."""
        now = now or utcnow()
        return sum(self.attempt(i, send, now) for i in self.due(now))

    def waiting(self, **where: Any) -> list[Row]:
        """Rows stored but not yet delivered, with their last error (filtered by column values, if given)."""
        with self.sessions() as s:
            q = select(self.model).where(self.model.status.in_(WAITING))
            for column, value in where.items():
                q = q.where(getattr(self.model, column) == value)
            return list(s.scalars(q.order_by(self.model.id)))
