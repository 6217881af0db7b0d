"""Confirmation tokens: only a genuine, current, unaltered HS256 token for our audience is accepted."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from lib.core.tokens import AUDIENCE, ISSUER, MAX_TOKEN_LENGTH, TokenError, make_token, verify_token

SECRET = "s3cret-for-tests-only-0123456789abcdef"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
TTL = timedelta(hours=24)


def claims(**over: object) -> dict:
    base = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "abc123def456",
        "jti": "j1",
        "iat": NOW,
        "nbf": NOW,
        "exp": NOW + TTL,
    }
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def reason(token: str, at: datetime = NOW, secret: str = SECRET) -> str:
    with pytest.raises(TokenError) as e:
        verify_token(secret, token, at)
    assert str(e.value)  # always a sentence for the page
    return e.value.reason


def test_valid_token_round_trips() -> None:
    token = make_token(SECRET, "abc123def456", "j1", NOW, TTL)
    c = verify_token(SECRET, token, NOW + timedelta(hours=23))
    assert (c.scan_id, c.jti, c.expires_at) == ("abc123def456", "j1", NOW + TTL)


def test_expired_after_ttl() -> None:
    token = make_token(SECRET, "abc123def456", "j1", NOW, TTL)
    assert reason(token, NOW + TTL) == "expired"


def test_not_yet_valid() -> None:
    token = jwt.encode(claims(nbf=NOW + timedelta(hours=1)), SECRET, algorithm="HS256")
    assert reason(token) == "not_yet_valid"


def test_wrong_key_and_tampered_claim() -> None:
    assert reason(jwt.encode(claims(), "another-secret-entirely-0123456789", algorithm="HS256")) == "bad_signature"
    token = make_token(SECRET, "abc123def456", "j1", NOW, TTL)
    head, body, sig = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=="))
    payload["sub"] = "000000000000"
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    assert reason(f"{head}.{forged}.{sig}") == "bad_signature"


def test_alg_none_is_refused() -> None:
    token = jwt.encode(claims(), None, algorithm="none")
    assert reason(token) == "malformed"


def test_rs256_hs256_key_confusion_is_refused() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    rs_token = jwt.encode(claims(), key, algorithm="RS256")
    assert reason(rs_token, secret=public_pem) == "malformed"  # RS256 is not an accepted algorithm
    # An attacker signing HS256 with the public key gets nowhere: our secret is not the public key.
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps(claims(), default=lambda d: int(d.timestamp())).encode()).rstrip(b"=")
    sig = base64.urlsafe_b64encode(hmac.new(public_pem.encode(), header + b"." + body, hashlib.sha256).digest())
    assert reason((header + b"." + body + b"." + sig.rstrip(b"=")).decode()) == "bad_signature"


@pytest.mark.parametrize("over", [{"aud": "someone-else"}, {"iss": "not-scanboard"}])
def test_wrong_audience_or_issuer(over: dict) -> None:
    assert reason(jwt.encode(claims(**over), SECRET, algorithm="HS256")) == "wrong_audience"


@pytest.mark.parametrize("missing", ["exp", "jti", "sub", "nbf"])
def test_missing_claims(missing: str) -> None:
    assert reason(jwt.encode(claims(**{missing: None}), SECRET, algorithm="HS256")) == "malformed"


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "...", "eyJ.eyJ.x", "\x00\xff", "e" * (MAX_TOKEN_LENGTH + 1)])
def test_garbage_and_oversized(garbage: str) -> None:
    assert reason(garbage) in {"missing", "malformed"}


def test_embedded_secret_is_created_once_even_when_threads_race(make_settings) -> None:
    settings = make_settings()
    with ThreadPoolExecutor(max_workers=16) as pool:
        secrets = set(pool.map(lambda _: settings.token_secret(), range(64)))
    key_file = settings.data_dir / "secret.key"
    assert secrets == {key_file.read_text().strip()} and len(secrets.pop()) >= 48
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in settings.data_dir.iterdir()] == ["secret.key"]  # no temporary files left
