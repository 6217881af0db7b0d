"""The one strict parse of a target URL, used by the form's validation, the scope policy and every redirect hop.

Browsers, `urlsplit`, urllib3 and requests disagree on odd URLs (a backslash in the host, a NUL, a percent-encoded
or full-width host, `0x7f.1`); a URL they could read differently is refused here instead of being guessed at, so
the host the policy checks is the host every client connects to. What is accepted is kept canonical: IDNA
A-labels in lower case, IPv4 as four decimal numbers, IPv6 compressed, the port a number from 1 to 65535.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass, replace
from urllib.parse import quote

import idna

MAX_URL_LENGTH = 2048
MAX_HOST_LENGTH = 253
DEFAULT_PORTS = {"http": 80, "https": 443}
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_NUMBER = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$", re.I)  # WHATWG: a host ending in a number is an IPv4 address
_DOTS = re.compile("[.\u3002\uff0e\uff61]")  # the dots IDNA splits on
_REFUSED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"}
_PATH_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in "\\")


class URLRejected(ValueError):
    """The URL is refused; the message says why, fit for the form's target field."""


@dataclass(frozen=True)
class TargetURL:
    scheme: str  # http | https
    host: str  # canonical: A-label name, dotted-quad IPv4 or compressed IPv6 (no brackets)
    port: int  # the explicit port or the scheme's default
    path: str = "/"  # percent-encoded, starts with /
    query: str = ""

    @property
    def is_ip(self) -> bool:
        return _ip_or_none(self.host) is not None

    @property
    def host_for_url(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host

    @property
    def netloc(self) -> str:
        default = DEFAULT_PORTS[self.scheme] == self.port
        return self.host_for_url if default else f"{self.host_for_url}:{self.port}"

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port)

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.netloc}{self.path}" + (f"?{self.query}" if self.query else "")

    def with_path(self, path: str) -> TargetURL:
        """The same origin with another path (the web step's start page, the ownership file)."""
        return replace(self, path=_encode(path or "/"), query="")


def _ip_or_none(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _refuse(why: str) -> URLRejected:
    return URLRejected(f"The URL is not valid: {why}.")


def _check_characters(text: str) -> None:
    """No control, format or white-space character anywhere, and no backslash (clients split hosts on it)."""
    for i, c in enumerate(text):
        if c == "\\":
            raise _refuse(f"it contains a backslash (position {i + 1})")
        if unicodedata.category(c) in _REFUSED_CATEGORIES or c.isspace():
            raise _refuse(f"it contains a control or white-space character U+{ord(c):04X} (position {i + 1})")


def _encode(part: str) -> str:
    """Non-ASCII in the path or query percent-encoded, as every HTTP client sends it."""
    return quote(part, safe=_PATH_SAFE)


def parse_target(text: object) -> TargetURL:
    """The canonical target, or URLRejected with the reason."""
    if not isinstance(text, str):
        raise _refuse("it is not text")
    if len(text) > MAX_URL_LENGTH:
        raise URLRejected(f"The URL is too long (at most {MAX_URL_LENGTH} characters).")
    if "://" not in text:
        raise URLRejected("Enter a full URL starting with http:// or https://.")
    _check_characters(text)
    m = _SCHEME.match(text)
    scheme = m.group(1).lower() if m else ""
    if scheme not in DEFAULT_PORTS:
        raise URLRejected("Only http:// and https:// URLs can be scanned.")
    rest = text[m.end() :] if m else ""
    if not rest.startswith("//"):
        raise URLRejected("Enter a full URL starting with http:// or https://.")
    rest = rest[2:]
    cut = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, tail = rest[:cut], rest[cut:]
    if "@" in authority:
        raise URLRejected("The URL must not contain a user name or password.")
    host_text, port = _split_port(authority, scheme)
    host = canonical_host(host_text)
    tail = tail.split("#", 1)[0]
    path, _, query = tail.partition("?")
    return TargetURL(scheme, host, port, _encode(path or "/"), _encode(query))


def _split_port(authority: str, scheme: str) -> tuple[str, int]:
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise _refuse("the IPv6 address has no closing ]")
        host, after = authority[: end + 1], authority[end + 1 :]
        if after and not after.startswith(":"):
            raise _refuse("unexpected characters after the IPv6 address")
        port_text = after[1:] if after else None
    else:
        if authority.count(":") > 1:
            raise _refuse("write IPv6 addresses in brackets, e.g. http://[2001:db8::1]/")
        host, sep, port_text_ = authority.partition(":")
        port_text = port_text_ if sep else None
    if port_text is None:
        return host, DEFAULT_PORTS[scheme]
    if not (port_text.isascii() and port_text.isdigit() and len(port_text) <= 5) or not 1 <= int(port_text) <= 65535:
        raise _refuse("the port must be a number from 1 to 65535")
    return host, int(port_text)


def canonical_host(text: str) -> str:
    """An IP literal or a host name in its one canonical spelling; URLRejected for anything ambiguous."""
    if not text:
        raise URLRejected("The URL has no host name.")
    if "%" in text:
        raise _refuse("percent-encoded characters (or IPv6 zone ids) are not allowed in the host")
    if text.startswith("["):
        try:
            return ipaddress.IPv6Address(text[1:-1]).compressed
        except ValueError:
            raise _refuse(f"{text} is not an IPv6 address") from None
    if any(label == "" for label in _DOTS.split(text)):
        raise _refuse("the host name has an empty label (two dots in a row, or a leading or trailing dot)")
    name = _idna(text)
    labels = name.split(".")
    if _NUMBER.match(labels[-1]):
        return _dotted_quad(name)
    if len(name) > MAX_HOST_LENGTH or not all(_LABEL.match(label) for label in labels):
        raise _refuse("the host name may hold only letters, digits, hyphens and dots (labels up to 63 characters)")
    return name


def _idna(text: str) -> str:
    """The A-label form; also what urllib3 computes (strict dots, STD3 rules), else the URL is refused."""
    try:
        ours = idna.encode(text, uts46=True, std3_rules=True).decode("ascii")
        theirs = idna.encode(text.lower(), strict=True, std3_rules=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError) as e:
        raise _refuse(f"the host is not a valid (internationalised) domain name ({e})") from None
    if ours != theirs:
        raise _refuse(f"write the host as {ours}")
    return ours


def _dotted_quad(name: str) -> str:
    parts = name.split(".")
    canonical = len(parts) == 4 and all(p.isdigit() and str(int(p)) == p and int(p) <= 255 for p in parts)
    if not canonical:
        raise _refuse("write IPv4 addresses as four decimal numbers, e.g. 192.0.2.10")
    return name
