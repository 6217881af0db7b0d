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
    "analyst": ("new_scan", "progress", "reports", "schedules", "outbox", "tokens"),
    "manager": ("progress", "reports", "history", "audit"),
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

    def owner_filter(self) -> str | None:
        """The requester whose scans this viewer sees: None for every requester; "" (no email) matches none."""
        return None if self.sees_all_scans() else self.email.strip()

    def may_see(self, scan_email: str) -> bool:
        """Fails closed: a signed-in viewer with no email owns nothing (an empty email never matches)."""
        if self.sees_all_scans():
            return True
        return bool(self.email.strip()) and scan_email.strip().lower() == self.email.strip().lower()


LOCAL_VIEWER = Viewer(email="", roles=frozenset(ROLES), signed_in=False)


def sign_in_refusal(claims: dict[str, Any]) -> str:
    """Why an identity token cannot sign in ("" when it can): scans are owned by email, so an identity without
    a verified email would own nothing (or, in a careless query, everything)."""
    email = str(claims.get("email") or "").strip()
    if not email or "@" not in email:
        return "Your identity provider sent no email address, so scanboard cannot tell which scans are yours."
    if claims.get("email_verified") not in (True, "true"):  # some providers send the claim as a string
        return (
            f"Your identity provider has not verified the email address {email}, so scanboard cannot accept it "
            "as yours. Verify it with your provider, then sign in again."
        )
    return ""


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
