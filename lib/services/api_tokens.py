"""API tokens: create (the key is returned once), list, revoke, and authenticate a call with the scope it
needs. A token acts for its owner: the scans it asks for are the owner's, under the owner's limits."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session, sessionmaker

from lib.adapters.models import ApiToken, utcnow
from lib.config import Settings
from lib.core.api_keys import KeyInvalid, check_scopes, hash_key, key_prefix, new_key
from lib.core.roles import LOCAL_VIEWER, Viewer, roles_for
from lib.core.validation import check_email

MAX_DAYS = 366
LAST_USED_EVERY = timedelta(seconds=60)  # last_used_at is written at most this often per token


class AuthError(Exception):
    """401 (no or bad token) or 403 (valid token, missing scope); the message is the problem's detail."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


@dataclass(frozen=True)
class Caller:
    token_id: int
    prefix: str
    owner_email: str
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class Created:
    key: str  # shown once, never stored
    token: ApiToken


def create(
    sessions: sessionmaker[Session], owner: str, name: str, scopes: list[str], days: int, now: datetime | None = None
) -> Created:
    """A new token for `owner`; ValueError with the reason when the owner, scopes or lifetime are wrong."""
    owner = check_email(owner).lower()
    chosen = check_scopes(scopes)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise ValueError(f"A token lives from 1 to {MAX_DAYS} days.")
    now = now or utcnow()
    key, prefix = new_key()
    row = ApiToken(
        prefix=prefix,
        token_hash=hash_key(key),
        owner_email=owner,
        name=(name or "").strip()[:100],
        scopes=" ".join(chosen),
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    with sessions.begin() as s:
        s.add(row)
    return Created(key, row)


def list_tokens(sessions: sessionmaker[Session], owner: str) -> list[ApiToken]:
    with sessions() as s:
        q = select(ApiToken).where(ApiToken.owner_email == owner.lower()).order_by(ApiToken.created_at.desc())
        return list(s.scalars(q))


def state_of(token: ApiToken, now: datetime | None = None) -> str:
    """active, expired or revoked."""
    if token.revoked_at is not None:
        return "revoked"
    return "expired" if token.expires_at <= (now or utcnow()) else "active"


def revoke(sessions: sessionmaker[Session], owner: str, token_id: int, now: datetime | None = None) -> bool:
    """Revoke one of the owner's tokens; False when there is no such live token of theirs."""
    with sessions.begin() as s:
        res = cast(
            "CursorResult[Any]",
            s.execute(
                update(ApiToken)
                .where(ApiToken.id == token_id, ApiToken.owner_email == owner.lower(), ApiToken.revoked_at.is_(None))
                .values(revoked_at=now or utcnow())
            ),
        )
        return res.rowcount == 1


def authenticate(
    sessions: sessionmaker[Session], authorization: str, scope: str, now: datetime | None = None
) -> Caller:
    """The caller behind an `Authorization: Bearer <key>` header, if the key is live and has `scope`."""
    scheme, _, raw = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise AuthError(401, "Send an API token as 'Authorization: Bearer <token>' (create one on the Tokens page).")
    try:
        prefix = key_prefix(raw.strip())
    except KeyInvalid as e:
        raise AuthError(401, str(e)) from None
    now = now or utcnow()
    with sessions() as s:
        row = s.scalar(select(ApiToken).where(ApiToken.prefix == prefix))
    if row is None or not hmac.compare_digest(row.token_hash, hash_key(raw.strip())):
        raise AuthError(401, "This API token is not known.")
    if row.revoked_at is not None:
        raise AuthError(401, f"This API token was revoked on {row.revoked_at:%Y-%m-%d %H:%M} UTC.")
    if row.expires_at <= now:
        raise AuthError(401, f"This API token expired on {row.expires_at:%Y-%m-%d %H:%M} UTC.")
    scopes = tuple(row.scopes.split())
    if scope not in scopes:
        raise AuthError(403, f"This API token lacks the scope {scope!r} (it has: {', '.join(scopes)}).")
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY:
        with sessions.begin() as s:
            s.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
    return Caller(row.id, row.prefix, row.owner_email, scopes)


def caller_viewer(settings: Settings, email: str) -> Viewer:
    """Whose scans a token's owner may read: without sign-in everyone is the one local user (sees all),
    with sign-in the configured roles decide (a manager sees all, an analyst their own)."""
    if settings.scanboard_auth == "none":
        return Viewer(email=email, roles=LOCAL_VIEWER.roles, signed_in=True)
    return Viewer(email=email, roles=roles_for(email, {}, settings.role_policy()), signed_in=True)
