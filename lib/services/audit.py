"""The API's audit log: one appended row per call (who, what, the answer's status)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lib.adapters.models import ApiAudit, utcnow


def record_api_call(
    sessions: sessionmaker[Session],
    method: str,
    path: str,
    status: int,
    token_prefix: str = "",
    owner_email: str = "",
    client: str = "",
    scan_id: str = "",
) -> None:
    with sessions.begin() as s:
        s.add(
            ApiAudit(
                at=utcnow(),
                token_prefix=token_prefix,
                owner_email=owner_email,
                method=method[:8],
                path=path[:512],
                status=status,
                client=client[:64],
                scan_id=scan_id[:32],
            )
        )


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
