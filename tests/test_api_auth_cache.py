"""The API's token check with its one-second row cache, on a real database and an injected clock: what a cached
row may and may not hide (a revocation for at most the TTL; never an expiry, a wrong key or a missing scope),
and last_used_at written at most once a minute however many calls."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from lib.adapters.models import ApiToken, utcnow
from lib.core.api_keys import SCAN_READ, SCAN_WRITE
from lib.services import api_tokens
from lib.services.api_tokens import Authenticator, AuthError

OWNER = "ci@example.com"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sessions(runtime):
    return runtime.sessions


def refused(auth: Authenticator, key: str, scope: str = SCAN_READ, **kw) -> AuthError:
    with pytest.raises(AuthError) as e:
        auth.caller(f"Bearer {key}", scope, **kw)
    return e.value


def test_revocation_is_seen_once_the_cached_row_is_older_than_the_ttl(sessions) -> None:
    clock = Clock()
    auth = Authenticator(sessions, ttl_seconds=1.0, clock=clock)
    made = api_tokens.create(sessions, OWNER, "ci", [SCAN_READ], 30)
    assert auth.caller(f"Bearer {made.key}", SCAN_READ).owner_email == OWNER
    assert api_tokens.revoke(sessions, OWNER, made.token.id)
    clock.now += 0.5
    assert auth.caller(f"Bearer {made.key}", SCAN_READ).token_id == made.token.id  # within the TTL: cached
    clock.now += 0.6
    e = refused(auth, made.key)
    assert e.status == 401 and "revoked" in str(e)


def test_a_cached_row_never_hides_expiry_a_wrong_key_or_a_missing_scope(sessions) -> None:
    auth = Authenticator(sessions, ttl_seconds=3600.0, clock=Clock())  # the row stays cached throughout
    made = api_tokens.create(sessions, OWNER, "ci", [SCAN_READ], 1)
    assert auth.caller(f"Bearer {made.key}", SCAN_READ)
    later = utcnow() + timedelta(days=1, seconds=1)
    e = refused(auth, made.key, now=later)
    assert e.status == 401 and "expired" in str(e)
    forged = made.key[:-4] + ("AAAA" if not made.key.endswith("AAAA") else "BBBB")
    assert refused(auth, forged).status == 401  # same prefix, so the same cached row: the hash still decides
    e = refused(auth, made.key, SCAN_WRITE)
    assert e.status == 403 and SCAN_WRITE in str(e)


def test_last_used_is_written_at_most_once_a_minute(sessions) -> None:
    auth = Authenticator(sessions, ttl_seconds=0.0)  # every call reads the row: only the throttle limits writes
    made = api_tokens.create(sessions, OWNER, "ci", [SCAN_READ], 30)

    def last_used():
        with sessions() as s:
            return s.scalar(select(ApiToken.last_used_at).where(ApiToken.id == made.token.id))

    t0 = utcnow()
    auth.caller(f"Bearer {made.key}", SCAN_READ, now=t0)
    assert last_used() == t0
    for seconds in (1, 30, 59):
        auth.caller(f"Bearer {made.key}", SCAN_READ, now=t0 + timedelta(seconds=seconds))
    assert last_used() == t0
    auth.caller(f"Bearer {made.key}", SCAN_READ, now=t0 + timedelta(seconds=61))
    assert last_used() == t0 + timedelta(seconds=61)
