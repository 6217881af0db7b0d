"""The target scope policy: which hosts this portal may scan.

Checked when a request is stored and again right before each scan step (DNS can change in between). The host is
normalised (legacy IPv4 spellings such as decimal, hex or octal, IPv4-mapped IPv6, trailing dots), resolved, and
every address it resolves to must be allowed.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str], list[str]]

METADATA_ADDRESSES = (ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"))
CGNAT = ipaddress.ip_network("100.64.0.0/10")
MAX_URL_LENGTH = 2048
_LEGACY_V4 = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}$", re.I)


class ScopeError(ValueError):
    """The target is not allowed; the message says why, for the form."""


@dataclass(frozen=True)
class ScopePolicy:
    allow_loopback: bool = False
    allow_private: bool = False
    deny_cidrs: tuple[str, ...] = ()  # e.g. the cluster's pod and service CIDRs
    allow_cidrs: tuple[str, ...] = ()  # exceptions to the address rules above
    allow_domains: tuple[str, ...] = ()  # empty: any domain not denied
    deny_domains: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ScopeDecision:
    host: str  # normalised host name or address
    addresses: tuple[str, ...]


def system_resolver(host: str) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, OSError) as e:
        raise ScopeError(f"The host {host!r} could not be resolved ({e}).") from None
    return sorted({str(info[4][0]) for info in infos})


def normalise_host(host: str) -> str:
    """Lower-case, no trailing dot, legacy IPv4 spellings as dotted quads, IPv4-mapped IPv6 as IPv4."""
    host = host.strip().lower().rstrip(".")
    if _LEGACY_V4.match(host):
        try:
            return socket.inet_ntoa(socket.inet_aton(host))
        except OSError:
            raise ScopeError(f"{host!r} is not a valid address.") from None
    try:
        addr = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host
    return str(_unmap(addr))


def _unmap(addr: IPAddress) -> IPAddress:
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def domain_matches(host: str, domains: Iterable[str]) -> bool:
    """The host is one of the domains or a subdomain of one (case and trailing dots ignored)."""
    return any(host == d or host.endswith("." + d) for d in (d.lower().strip(".") for d in domains))


def address_refusal(addr: IPAddress, policy: ScopePolicy) -> str:
    """Why this address may not be scanned, or "" when it may."""
    addr = _unmap(addr)
    if any(addr in ipaddress.ip_network(c) for c in policy.allow_cidrs):
        return ""
    if addr in METADATA_ADDRESSES:
        return "it is a cloud metadata address"
    if any(addr in ipaddress.ip_network(c) for c in policy.deny_cidrs):
        return "it is inside a denied network"
    if addr.is_unspecified or addr.is_multicast or addr.is_reserved:
        return "it is not a unicast host address"
    if addr.is_loopback:
        return "" if policy.allow_loopback else "it is a loopback address"
    if addr.is_link_local:
        return "it is a link-local address"
    if isinstance(addr, ipaddress.IPv4Address) and addr in CGNAT:
        return "" if policy.allow_private else "it is a carrier-grade NAT (shared) address"
    if addr.is_private:
        return "" if policy.allow_private else "it is a private (internal) address"
    return ""


def check_url(url: str, policy: ScopePolicy, resolve: Resolver = system_resolver) -> ScopeDecision:
    """Allow or refuse a target URL; ScopeError carries the reason."""
    if len(url) > MAX_URL_LENGTH:
        raise ScopeError(f"The URL is too long (at most {MAX_URL_LENGTH} characters).")
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a bad port
    except ValueError as e:
        raise ScopeError(f"The URL is not valid ({e}).") from None
    if parts.scheme not in ("http", "https"):
        raise ScopeError("Only http:// and https:// URLs can be scanned.")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ScopeError("The URL must not contain a user name or password.")
    if not parts.hostname:
        raise ScopeError("The URL has no host name.")
    host = normalise_host(parts.hostname)
    if policy.deny_domains and domain_matches(host, policy.deny_domains):
        raise ScopeError(f"Scanning {host} is not allowed by this portal's policy.")
    addresses = resolve(host)
    if not addresses:
        raise ScopeError(f"The host {host!r} could not be resolved.")
    allowlisted = bool(policy.allow_domains) and domain_matches(host, policy.allow_domains)
    if policy.allow_domains and not allowlisted:
        raise ScopeError(f"{host} is not on this portal's list of scannable domains.")
    for a in addresses:
        reason = address_refusal(ipaddress.ip_address(a.split("%")[0]), policy)
        if reason:
            raise ScopeError(f"{host} resolves to {a}, which cannot be scanned: {reason}.")
    return ScopeDecision(host=host, addresses=tuple(addresses))
