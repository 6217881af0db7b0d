"""API tokens: create (the key is returned once), list, revoke, and authenticate a call with the scope it
needs. A token acts for its owner: the scans it asks for are the owner's, under the owner's limits."""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session, sessionmaker

from lib.adapters.models import ApiToken, utcnow
from lib.config import Settings
from lib.core.api_keys import KeyInvalid, check_scopes, hash_key, key_prefix, new_key
from lib.core.roles import LOCAL_VIEWER, Viewer, roles_for
from lib.core.ttl_cache import TtlCache
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


@dataclass(frozen=True)
class _TokenRecord:
    """What checking a key needs of its row, detached from the session so it can be cached."""

    id: int
    prefix: str
    token_hash: str
    owner_email: str
    scopes: tuple[str, ...]
    revoked_at: datetime | None
    expires_at: datetime
    last_used_at: datetime | None


def _key_of(authorization: str) -> tuple[str, str]:
    """(key, prefix) from an `Authorization: Bearer <key>` header, or 401 saying how to send one."""
    scheme, _, raw = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise AuthError(401, "Send an API token as 'Authorization: Bearer <token>' (create one on the Tokens page).")
    try:
        return raw.strip(), key_prefix(raw.strip())
    except KeyInvalid as e:
        raise AuthError(401, str(e)) from None


def _load(sessions: sessionmaker[Session], prefix: str) -> _TokenRecord | None:
    with sessions() as s:
        row = s.scalar(select(ApiToken).where(ApiToken.prefix == prefix))
        if row is None:
            return None
        scopes = tuple(row.scopes.split())
        return _TokenRecord(
            row.id,
            row.prefix,
            row.token_hash,
            row.owner_email,
            scopes,
            row.revoked_at,
            row.expires_at,
            row.last_used_at,
        )


def _check(row: _TokenRecord | None, key: str, scope: str, now: datetime) -> _TokenRecord:
    """The token's record if the key matches a live token with `scope`; AuthError (401/403) saying which rule
    failed."""
    if row is None or not hmac.compare_digest(row.token_hash, hash_key(key)):
        raise AuthError(401, "This API token is not known.")
    if row.revoked_at is not None:
        raise AuthError(401, f"This API token was revoked on {row.revoked_at:%Y-%m-%d %H:%M} UTC.")
    if row.expires_at <= now:
        raise AuthError(401, f"This API token expired on {row.expires_at:%Y-%m-%d %H:%M} UTC.")
    if scope not in row.scopes:
        raise AuthError(403, f"This API token lacks the scope {scope!r} (it has: {', '.join(row.scopes)}).")
    return row


class Authenticator:
    """Authenticates API calls with each token's row read at most once per `ttl_seconds` per process.

    Why: at 200 concurrent readers a database read per call was most of the API's service time. The key's hash,
    expiry and scope are checked on every call against the current time; only a revocation can take up to
    `ttl_seconds` to be seen. last_used_at is written at most once per LAST_USED_EVERY per token."""

    def __init__(
        self, sessions: sessionmaker[Session], ttl_seconds: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.sessions = sessions
        self._rows = TtlCache[_TokenRecord | None](ttl_seconds, clock)
        self._used: dict[int, datetime] = {}

    def caller(self, authorization: str, scope: str, now: datetime | None = None) -> Caller:
        """The caller behind an `Authorization: Bearer <key>` header, if the key is live and has `scope`."""
        key, prefix = _key_of(authorization)
        now = now or utcnow()
        token = _check(self._rows.get(prefix, lambda: _load(self.sessions, prefix)), key, scope, now)
        self._mark_used(token, now)
        return Caller(token.id, token.prefix, token.owner_email, token.scopes)

    def _mark_used(self, row: _TokenRecord, now: datetime) -> None:
        last = max(filter(None, (row.last_used_at, self._used.get(row.id))), default=None)
        if last is None or now - last >= LAST_USED_EVERY:
            self._used[row.id] = now
            with self.sessions.begin() as s:
                s.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))


def authenticate(
    sessions: sessionmaker[Session], authorization: str, scope: str, now: datetime | None = None
) -> Caller:
    """One uncached check (a read of the token's row): for callers outside the API's hot path."""
    return Authenticator(sessions, ttl_seconds=0).caller(authorization, scope, now)


def caller_viewer(settings: Settings, email: str) -> Viewer:
    """Whose scans a token's owner may read: without sign-in everyone is the one local user (sees all),
    with sign-in the configured roles decide (a manager sees all, an analyst their own)."""
    if settings.scanboard_auth == "none":
        return Viewer(email=email, roles=LOCAL_VIEWER.roles, signed_in=True)
    return Viewer(email=email, roles=roles_for(email, {}, settings.role_policy()), signed_in=True)
