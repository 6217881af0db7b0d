"""Abuse limits per requester email and per client: requests per hour, unconfirmed requests outstanding,
scans running at once. Enforced atomically: the requester's limit rows are written (and so locked) first in the
transaction that counts and then stores, so concurrent requests from one requester are counted one after another.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from lib.adapters.models import AWAITING_CONFIRMATION, AWAITING_OWNERSHIP, QUEUED, RUNNING, LimitKey, Scan
from lib.core.limit_rules import LimitExceeded, Limits, canonical_email

ACTIVE = (QUEUED, RUNNING, AWAITING_OWNERSHIP)  # confirmed and not finished


def lock(s: Session, keys: list[str], now: datetime) -> None:
    """Write each key's row (insert or touch): a row lock in PostgreSQL, the write lock in SQLite, held until
    the transaction ends."""
    insert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
    for key in keys:
        s.execute(
            insert(LimitKey)
            .values(key=key, touched_at=now)
            .on_conflict_do_update(index_elements=["key"], set_={"touched_at": now})
        )


def same_mailbox(s: Session, email: str, limits: Limits):
    """A clause for the scans requested by this mailbox under any spelling (case, +tag where ignored): the
    stored spellings that could match are read, then compared canonically."""
    key = canonical_email(email, limits)
    local, _, domain = key.rpartition("@")
    pattern = f"{_like_escape(local)}%@{_like_escape(domain)}"
    stored = s.scalars(
        select(Scan.requester_email).distinct().where(func.lower(Scan.requester_email).like(pattern, escape="\\"))
    )
    spellings = {e for e in stored if canonical_email(e, limits) == key} | {email}
    return Scan.requester_email.in_(sorted(spellings))


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _count(s: Session, *where) -> int:
    return s.scalar(select(func.count()).select_from(Scan).where(*where)) or 0


def check_submit(s: Session, email: str, client_id: str, limits: Limits, now: datetime, token_ttl: timedelta) -> None:
    """Before storing a new request (call inside the storing transaction, after lock())."""
    who = [("You", "have", same_mailbox(s, email, limits))]
    if client_id:
        who.append(("This computer", "has", Scan.client_id == client_id))
    for subject, have, clause in who:
        recent = _count(s, clause, Scan.created_at >= now - timedelta(hours=1))
        if recent >= limits.requests_per_hour:
            raise LimitExceeded(
                f"{subject} asked for {recent} scans in the last hour, the limit is "
                f"{limits.requests_per_hour}. Please try again later."
            )
        if subject == "This computer":  # a requester's own running scans are checked when the link is opened
            active = _count(s, clause, Scan.status.in_(ACTIVE))
            if active >= limits.running:
                raise LimitExceeded(
                    f"This computer already has {active} scans running or queued (limit "
                    f"{limits.running}). Please wait until one has finished."
                )
        waiting = _count(s, clause, Scan.status == AWAITING_CONFIRMATION, Scan.created_at >= now - token_ttl)
        if waiting >= limits.unconfirmed:
            raise LimitExceeded(
                f"{subject} {have} {waiting} scan requests still waiting for confirmation "
                f"(limit {limits.unconfirmed}). Confirm them or let them expire before asking again."
            )


LINK_HINT = "Open this link again when one has finished; it stays valid until it expires."


def check_running(s: Session, email: str, limits: Limits, hint: str = LINK_HINT) -> None:
    """Before a scan is started (call inside the confirming transaction, after lock())."""
    active = _count(s, same_mailbox(s, email, limits), Scan.status.in_(ACTIVE))
    if active >= limits.running:
        raise LimitExceeded(f"You already have {active} scans running or queued (limit {limits.running}). {hint}")
