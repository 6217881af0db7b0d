"""When a requester must prove they control a target, and where the proof lives (a file on the target or a
DNS TXT record): pure rules; the check itself is lib/services/ownership.py."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from lib.core.scope import domain_matches

WELL_KNOWN_PATH = "/.well-known/scanboard-verification.txt"
TXT_PREFIX = "_scanboard-verification."


def new_token() -> str:
    return f"scanboard-verification={secrets.token_hex(16)}"


def required(host: str, mode: str, setting: str, allow_domains: tuple[str, ...]) -> bool:
    """`setting` is on | off | auto; auto: required in argo mode for domains not on the allowlist."""
    if setting in ("on", "off"):
        return setting == "on"
    listed = domain_matches(host, allow_domains)
    return mode == "argo" and not listed


def well_known_url(target: str) -> str:
    p = urlsplit(target)
    return f"{p.scheme}://{p.netloc}{WELL_KNOWN_PATH}"
