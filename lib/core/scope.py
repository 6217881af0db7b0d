"""The target scope policy: which hosts this portal may scan, and the addresses a scan may connect to.

The URL is parsed once, strictly (lib.core.target_url); the host is resolved once and every address must be
allowed. The decision carries those vetted addresses: scanners, redirect hops and the ownership check connect
to them only and never resolve the name again, so a name that answers differently next time (DNS rebinding)
changes nothing. Checked when a request is stored and again at the start of each step, which then pins.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from lib.core.target_url import TargetURL, URLRejected, parse_target

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str], list[str]]

# Cloud metadata and platform endpoints: refused in every mode, whatever allow_cidrs says.
METADATA_ADDRESSES = tuple(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure IMDS, OpenStack, Oracle, DigitalOcean
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "169.254.170.2",  # AWS ECS task metadata
        "168.63.129.16",  # Azure wire server
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud (legacy)
    )
)
CGNAT = ipaddress.ip_network("100.64.0.0/10")
IETF_PROTOCOL_ASSIGNMENTS = ipaddress.ip_network("192.0.0.0/24")
SITE_LOCAL = ipaddress.ip_network("fec0::/10")
SIX_TO_FOUR = ipaddress.ip_network("2002::/16")
TEREDO = ipaddress.ip_network("2001::/32")
NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_LEGACY_V4 = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}$", re.I)


class ScopeError(ValueError):
    """The target is not allowed; the message says why, for the form."""


@dataclass(frozen=True)
class ScopePolicy:
    allow_loopback: bool = False
    allow_private: bool = False
    deny_cidrs: tuple[str, ...] = ()  # e.g. the cluster's pod and service CIDRs
    allow_cidrs: tuple[str, ...] = ()  # exceptions to the address rules above (never to the metadata addresses)
    allow_domains: tuple[str, ...] = ()  # empty: any domain not denied
    deny_domains: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ScopeDecision:
    """An allowed target and the only addresses a scan of it may connect to (IPv4 first)."""

    target: TargetURL
    addresses: tuple[str, ...]

    @property
    def host(self) -> str:
        return self.target.host

    @property
    def url(self) -> str:
        return self.target.url


def system_resolver(host: str) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, OSError) as e:
        raise ScopeError(f"The host {host!r} could not be resolved ({e}).") from None
    return sorted({str(info[4][0]) for info in infos})


def normalise_host(host: str) -> str:
    """Lower-case, no trailing dot, legacy IPv4 spellings as dotted quads, IPv4-mapped IPv6 as IPv4 (for
    comparing hosts the user typed elsewhere; targets go through lib.core.target_url instead)."""
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


def embedded_ipv4(addr: IPAddress) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries and reaches through a gateway: 6to4, Teredo, NAT64."""
    if not isinstance(addr, ipaddress.IPv6Address):
        return []
    if addr in SIX_TO_FOUR and addr.sixtofour is not None:
        return [addr.sixtofour]
    if addr in TEREDO and addr.teredo is not None:
        return list(addr.teredo)
    if any(addr in n for n in NAT64):
        return [ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)]
    return []


def domain_matches(host: str, domains: Iterable[str]) -> bool:
    """The host is one of the domains or a subdomain of one (case and trailing dots ignored)."""
    return any(host == d or host.endswith("." + d) for d in (d.lower().strip(".") for d in domains))


def address_refusal(addr: IPAddress, policy: ScopePolicy) -> str:
    """Why this address may not be scanned, or "" when it may."""
    addr = _unmap(addr)
    if addr in METADATA_ADDRESSES or any(a in METADATA_ADDRESSES for a in embedded_ipv4(addr)):
        return "it is a cloud metadata address"
    if any(addr in ipaddress.ip_network(c) for c in policy.allow_cidrs):
        return ""
    for inner in embedded_ipv4(addr):
        reason = address_refusal(inner, policy)
        if reason:
            return f"it embeds {inner} and {reason}"
    return _class_refusal(addr, policy)


def _class_refusal(addr: IPAddress, policy: ScopePolicy) -> str:
    if any(addr in ipaddress.ip_network(c) for c in policy.deny_cidrs):
        return "it is inside a denied network"
    if addr.is_unspecified or addr.is_multicast or addr.is_reserved:
        return "it is not a unicast host address"
    if addr.is_loopback:
        return "" if policy.allow_loopback else "it is a loopback address"
    if addr.is_link_local:
        return "it is a link-local address"
    if isinstance(addr, ipaddress.IPv6Address) and addr in SITE_LOCAL:
        return "it is a site-local address"
    if isinstance(addr, ipaddress.IPv4Address) and addr in IETF_PROTOCOL_ASSIGNMENTS:
        return "it is an IETF protocol assignment (192.0.0.0/24), not a host"
    if isinstance(addr, ipaddress.IPv4Address) and addr in CGNAT:
        return "" if policy.allow_private else "it is a carrier-grade NAT (shared) address"
    if addr.is_private:
        return "" if policy.allow_private else "it is a private (internal) address"
    return ""


def check_url(url: str, policy: ScopePolicy, resolve: Resolver = system_resolver) -> ScopeDecision:
    """Allow or refuse a target URL; ScopeError carries the reason."""
    try:
        target = parse_target(url)
    except URLRejected as e:
        raise ScopeError(str(e)) from None
    return check_target(target, policy, resolve)


def check_target(target: TargetURL, policy: ScopePolicy, resolve: Resolver = system_resolver) -> ScopeDecision:
    """Allow or refuse an already parsed target: its host, then every address it resolves to, once."""
    host = target.host
    if policy.deny_domains and domain_matches(host, policy.deny_domains):
        raise ScopeError(f"Scanning {host} is not allowed by this portal's policy.")
    if policy.allow_domains and not domain_matches(host, policy.allow_domains):
        raise ScopeError(f"{host} is not on this portal's list of scannable domains.")
    addresses = [host] if target.is_ip else resolve(host)
    return ScopeDecision(target, vet_addresses(host, addresses, policy))


def vet_addresses(host: str, addresses: Iterable[str], policy: ScopePolicy) -> tuple[str, ...]:
    """Every address allowed, as canonical strings, IPv4 first; ScopeError naming the first refused one."""
    vetted: list[IPAddress] = []
    for a in addresses:
        try:
            addr = ipaddress.ip_address(str(a).split("%")[0])
        except ValueError:
            raise ScopeError(f"The host {host!r} resolved to something that is not an address.") from None
        reason = address_refusal(addr, policy)
        if reason:
            raise ScopeError(f"{host} resolves to {addr}, which cannot be scanned: {reason}.")
        if addr not in vetted:
            vetted.append(addr)
    if not vetted:
        raise ScopeError(f"The host {host!r} could not be resolved.")
    vetted.sort(key=lambda a: a.version)
    return tuple(str(a) for a in vetted)
