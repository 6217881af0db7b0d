"""Who may see what: roles from configured email lists/domains or an OIDC claim, and the pages per role.

analyst: asks for scans and sees their own; manager: all history; operator: the cluster page. Without sign-in
(the embedded default) there is one local user with every role.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

ROLES: tuple[str, ...] = ("analyst", "manager", "operator")
PAGES_BY_ROLE: dict[str, tuple[str, ...]] = {
    "analyst": ("new_scan", "progress", "reports", "outbox", "schedules"),
    "manager": ("progress", "reports", "history"),
    "operator": ("cluster",),
}


@dataclass(frozen=True)
class RolePolicy:
    managers: tuple[str, ...] = ()  # emails or "@domain" entries
    operators: tuple[str, ...] = ()
    analysts: tuple[str, ...] = ()  # empty: everyone who signs in is an analyst
    claim: str = "roles"  # an OIDC claim holding role names, if the identity provider sends one


@dataclass(frozen=True)
class Viewer:
    email: str
    roles: frozenset[str]
    signed_in: bool

    @property
    def local(self) -> bool:
        return not self.signed_in

    def can(self, role: str) -> bool:
        return role in self.roles

    def sees_all_scans(self) -> bool:
        return self.local or self.can("manager")

    def may_see(self, scan_email: str) -> bool:
        return self.sees_all_scans() or scan_email.lower() == self.email.lower()


LOCAL_VIEWER = Viewer(email="", roles=frozenset(ROLES), signed_in=False)


def _listed(email: str, entries: Iterable[str]) -> bool:
    email = email.lower()
    domain = "@" + email.rsplit("@", 1)[-1]
    return any(e.strip().lower() in (email, domain) for e in entries if e.strip())


def roles_for(email: str, claims: dict[str, Any], policy: RolePolicy) -> frozenset[str]:
    """Roles from the claim (names among ROLES) plus the configured lists."""
    raw = claims.get(policy.claim, ())
    claimed = {raw} if isinstance(raw, str) else set(raw) if isinstance(raw, (list, tuple)) else set()
    roles = {r for r in claimed if r in ROLES}
    if _listed(email, policy.managers):
        roles.add("manager")
    if _listed(email, policy.operators):
        roles.add("operator")
    if not policy.analysts or _listed(email, policy.analysts):
        roles.add("analyst")
    return frozenset(roles)


def visible_pages(viewer: Viewer) -> set[str]:
    return {page for role in viewer.roles for page in PAGES_BY_ROLE.get(role, ())}
