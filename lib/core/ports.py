"""Port specs as analysts type them ("1-1024", "22,80,443,8000-8100"): one parser for the form, the API and
every port scanner, so what was validated is what is scanned."""

from __future__ import annotations

from urllib.parse import urlsplit

from lib.core.target_url import DEFAULT_PORTS as SCHEME_PORTS  # a scheme's default port

DEFAULT_PORTS = "1-1024"
MAX_SPEC_LENGTH = 256  # characters: a spec is typed by a person, and travels in the webhook payload
MAX_ENTRIES = 64  # comma-separated ports or ranges
MAX_RANGES = 16


def parse_port_spec(spec: object) -> list[int]:
    """Ports named by a spec like "1-1024" or "22,80,443,8000-8100", sorted and without duplicates.

    Raises ValueError with a message fit to show next to a form field.
    """
    if isinstance(spec, bool) or not isinstance(spec, str | int | None):
        raise ValueError("Enter ports as text, e.g. 1-1024 or 22,80,443,8000-8100.")
    text = str(spec if spec is not None else "").strip()
    if not text:
        raise ValueError("Enter ports, e.g. 1-1024 or 22,80,443,8000-8100.")
    if len(text) > MAX_SPEC_LENGTH:
        raise ValueError(f"The port list is too long (at most {MAX_SPEC_LENGTH} characters): use ranges like 1-1024.")
    parts = text.split(",")
    if len(parts) > MAX_ENTRIES or sum("-" in p for p in parts) > MAX_RANGES:
        raise ValueError(f"Use at most {MAX_ENTRIES} entries and {MAX_RANGES} ranges, e.g. 1-1024,8000-8100.")
    ports: set[int] = set()
    for part in parts:
        part = part.strip()
        if not part:
            raise ValueError(f"Empty entry in port list {text!r}: remove the extra comma.")
        lo_text, sep, hi_text = part.partition("-")
        lo, hi = _port_number(lo_text, part), (_port_number(hi_text, part) if sep else None)
        if hi is None:
            ports.add(lo)
        elif lo > hi:
            raise ValueError(f"Port range {part!r} runs backwards: write it as {hi}-{lo}.")
        else:
            ports.update(range(lo, hi + 1))
    return sorted(ports)


def _port_number(text: str, part: str) -> int:
    text = text.strip()
    if not (text.isdigit() and text.isascii()):
        raise ValueError(f"{part!r} is not a port or a range of ports (use numbers like 80 or 8000-8100).")
    n = int(text) if len(text) <= 6 else 65536
    if not 1 <= n <= 65535:
        raise ValueError(f"Port {text[:10]} is out of range: ports are 1 to 65535.")
    return n


def ports_to_scan(spec: object, target: str) -> list[int]:
    """The ports a spec names plus the target URL's own port: the port the analyst asked about is always scanned,
    whatever range the spec gives (http://host:8443/ with the default 1-1024 still scans 8443)."""
    parts = urlsplit(target)
    own = parts.port or SCHEME_PORTS.get(parts.scheme)
    return sorted(set(parse_port_spec(spec)) | ({own} if own else set()))
