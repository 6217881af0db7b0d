"""The pod patch that pins a tool in another image (ZAP) to the addresses the scope step approved.

Why: ZAP resolves the target's name itself, in its own pod, after our scope check ran in the pod before it; a
name that answers differently the second time (DNS rebinding) would send it to an address nobody approved. The
scope pod writes this patch as an output parameter and the ZAP template applies it as its podSpecPatch: the
kubelet writes the approved addresses into that pod's /etc/hosts, which the resolver reads before DNS.
"""

from __future__ import annotations

from typing import Any

from lib.core.scope import ScopeDecision

NOTHING_TO_PIN: dict[str, Any] = {}  # an IP-literal target, or a refused one (whose tool never runs)


def pinning_patch(decision: ScopeDecision) -> dict[str, Any]:
    """A podSpecPatch mapping the target's name to every approved address (an IP literal needs none)."""
    if decision.target.is_ip:
        return NOTHING_TO_PIN
    return {"hostAliases": [{"ip": address, "hostnames": [decision.host]} for address in decision.addresses]}
