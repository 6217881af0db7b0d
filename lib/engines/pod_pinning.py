"""The pod patch that pins a tool in another image (ZAP) to the addresses the scope step approved.

Why: ZAP resolves the target's name itself, in its own pod, after our scope check ran in the pod before it; a
name that answers differently the second time (DNS rebinding) would send it to an address nobody approved. The
scope pod writes this patch as an output parameter and the ZAP template applies it as its podSpecPatch: the
kubelet writes the approved addresses into that pod's /etc/hosts, which the resolver reads before DNS.
Only the target's own name is pinned: hosts ZAP reaches by redirect resolve through DNS (README, Security).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from lib.core.scope import ScopeDecision

NOTHING_TO_PIN: dict[str, Any] = {}  # an IP-literal target, or a refused one (whose tool never runs)
# What the API server accepts as a hostAliases name (a DNS-1123 subdomain, Kubernetes' ValidateHostAliases)
DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
MAX_SUBDOMAIN_LENGTH = 253


class PinningError(ValueError):
    """The approved target cannot be written as hostAliases; the tool must not run unpinned."""


def pinning_patch(decision: ScopeDecision) -> dict[str, Any]:
    """A podSpecPatch mapping the target's name to every approved address (an IP literal needs none). Checked
    here as the API server would, so a name it would refuse fails in our step with a reason, not in Argo."""
    if decision.target.is_ip:
        return NOTHING_TO_PIN
    host = decision.host
    if len(host) > MAX_SUBDOMAIN_LENGTH or not DNS1123_SUBDOMAIN.fullmatch(host):
        raise PinningError(f"{host!r} cannot be pinned: Kubernetes host aliases take DNS-1123 names only")
    if not decision.addresses:
        raise PinningError(f"{host!r} has no approved address to pin")
    for address in decision.addresses:
        ipaddress.ip_address(address)  # a vetted address always parses; anything else is a bug, and raises
    return {"hostAliases": [{"ip": address, "hostnames": [host]} for address in decision.addresses]}
