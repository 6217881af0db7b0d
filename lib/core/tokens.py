"""Confirmation tokens: HS256 JWTs bound to one scan, expiring, single-use (the `jti` is stored on the scan
and cleared atomically when it is used). Pure functions: the clock and the secret are arguments."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

ISSUER = "scanboard"
AUDIENCE = "scanboard-confirm"
ALGORITHM = "HS256"
INVALID_LINK = "This confirmation link is not valid. Open the link from the email again."
MAX_TOKEN_LENGTH = 2048  # a real token is ~300 characters; anything far longer is refused before decoding


class TokenError(Exception):
    """A link that cannot be used; `reason` is a code, the message is for the user."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Claims:
    scan_id: str
    jti: str
    expires_at: datetime


def new_jti() -> str:
    return secrets.token_urlsafe(18)


def make_token(secret: str, scan_id: str, jti: str, now: datetime, ttl: timedelta) -> str:
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": scan_id, "jti": jti, "iat": now, "nbf": now, "exp": now + ttl}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(secret: str, token: str, now: datetime) -> Claims:
    """The claims of a valid token, or TokenError saying in plain words what is wrong with the link."""
    if not token or not isinstance(token, str):
        raise TokenError("missing", "This link has no confirmation token. Open the link from the email again.")
    if len(token) > MAX_TOKEN_LENGTH:
        raise TokenError("malformed", "This confirmation link is not valid (the token is far too long).")
    try:
        payload = _decode(token, secret, now)
    except jwt.ExpiredSignatureError:
        raise TokenError("expired", "This confirmation link has expired. Please request the scan again.") from None
    except jwt.ImmatureSignatureError:
        raise TokenError("not_yet_valid", "This confirmation link is not valid yet.") from None
    except (jwt.InvalidAudienceError, jwt.InvalidIssuerError):
        raise TokenError("wrong_audience", "This link was not issued for confirming a scan.") from None
    except jwt.InvalidSignatureError:
        raise TokenError("bad_signature", "This confirmation link has been altered and cannot be used.") from None
    except jwt.MissingRequiredClaimError as e:
        raise TokenError("malformed", f"This confirmation link is incomplete ({e.claim} is missing).") from None
    except jwt.InvalidTokenError:
        raise TokenError("malformed", INVALID_LINK) from None
    sub, jti = payload.get("sub"), payload.get("jti")
    if not isinstance(sub, str) or not isinstance(jti, str) or not sub or not jti:
        raise TokenError("malformed", INVALID_LINK)
    return Claims(scan_id=sub, jti=jti, expires_at=datetime.fromtimestamp(payload["exp"], now.tzinfo))


def _decode(token: str, secret: str, now: datetime) -> dict:
    """Signature, audience and issuer checked by pyjwt (HS256 only, so alg=none and RS/HS key confusion fail);
    time claims checked against `now` rather than the wall clock, so the caller owns the clock."""
    payload = jwt.decode(
        token,
        secret,
        algorithms=[ALGORITHM],
        audience=AUDIENCE,
        issuer=ISSUER,
        options={
            "require": ["exp", "iat", "nbf", "sub", "jti"],
            "verify_exp": False,
            "verify_nbf": False,
            "verify_iat": False,
        },
    )
    ts = now.timestamp()
    for claim in ("exp", "nbf", "iat"):
        if not isinstance(payload.get(claim), (int, float)):
            raise jwt.InvalidTokenError(f"{claim} is not a number")
    if ts >= payload["exp"]:
        raise jwt.ExpiredSignatureError()
    if ts < payload["nbf"]:
        raise jwt.ImmatureSignatureError()
    return payload
