"""API keys for pipelines: the key format, its hash and its scopes. Only the hash is stored; the short
public prefix finds the row without scanning every hash, and the full key is shown once at creation."""

from __future__ import annotations

import hashlib
import re
import secrets

SCAN_READ = "scans:read"
SCAN_WRITE = "scans:write"
SCOPES: tuple[str, ...] = (SCAN_READ, SCAN_WRITE)
KEY_START = "sbk_"
_KEY = re.compile(r"^sbk_([0-9a-f]{10})_([A-Za-z0-9_-]{43})$")


class KeyInvalid(ValueError):
    """Not a scanboard API key (wrong shape); the message says so without echoing it."""


def new_key() -> tuple[str, str]:
    """A fresh key and its public prefix."""
    prefix = secrets.token_hex(5)
    return f"{KEY_START}{prefix}_{secrets.token_urlsafe(32)}", prefix


def key_prefix(raw: str) -> str:
    """The lookup prefix of a well-formed key, or KeyInvalid."""
    m = _KEY.match(raw or "")
    if m is None:
        raise KeyInvalid("This is not a scanboard API token (they start with sbk_ and come from the Tokens page).")
    return m.group(1)


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def check_scopes(scopes: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The scopes in a fixed order, or ValueError naming the unknown ones."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValueError(f"Unknown scope(s) {unknown}; choose from {list(SCOPES)}.")
    if not scopes:
        raise ValueError("Choose at least one scope.")
    return tuple(s for s in SCOPES if s in scopes)
