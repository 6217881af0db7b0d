"""Triage that sticks: an analyst's or manager's verdict on a finding, kept per (target host, rule identity).

A mark belongs to the host and the scanboard rule (lib.core.rules), not to one scan, so it carries to every later
scan of the host. States:
- false_positive: the finding is wrong; left out of open counts, History and the diff from then on.
- accepted_risk: known and accepted until `expires_at` (a reason and an expiry are required); when it expires
  the finding is open again.
- fixed_pending: the owner says it is fixed; set aside until a scan that finishes after the mark still reports
  it, which reopens it (the fix did not hold).
- open: clears an earlier mark.
Every change is one row in an append-only log (who, when, what); the newest row per (host, rule) is the mark.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lib.core.findings import SEVERITIES, Finding

FALSE_POSITIVE, ACCEPTED_RISK, FIXED_PENDING, OPEN = "false_positive", "accepted_risk", "fixed_pending", "open"
STATES: dict[str, str] = {
    FALSE_POSITIVE: "False positive",
    ACCEPTED_RISK: "Accepted risk",
    FIXED_PENDING: "Fixed, pending verification",
    OPEN: "Open (clear the mark)",
}
TRIAGE_ROLES = ("analyst", "manager")
MAX_REASON = 2000


class TriageError(ValueError):
    """A mark that cannot be recorded; the message says why, for the form."""


@dataclass(frozen=True)
class TriageMark:
    host: str
    rule: str
    state: str
    reason: str
    by: str
    at: datetime
    expires_at: datetime | None = None

    def hides(self, scan_finished_at: datetime) -> bool:
        """Whether this mark sets the finding aside in a scan that finished at that time."""
        if self.state == FALSE_POSITIVE:
            return True
        if self.state == ACCEPTED_RISK:
            return self.expires_at is not None and scan_finished_at < self.expires_at
        if self.state == FIXED_PENDING:
            return scan_finished_at <= self.at  # a later scan that still finds it reopens it
        return False

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "at": self.at.isoformat(), "expires_at": _iso(self.expires_at)}

    def describe(self) -> str:
        until = f" until {self.expires_at:%Y-%m-%d}" if self.expires_at and self.state == ACCEPTED_RISK else ""
        return f"{STATES.get(self.state, self.state)}{until} — {self.reason} ({self.by}, {self.at:%Y-%m-%d %H:%M})"


def check_mark(state: str, reason: str, expires_at: datetime | None, now: datetime, roles: Iterable[str]) -> str:
    """The reason, trimmed, when the mark may be recorded; TriageError saying why not otherwise."""
    if not set(roles) & set(TRIAGE_ROLES):
        raise TriageError("Only an analyst or a manager may triage findings.")
    if state not in STATES:
        raise TriageError(f"Unknown triage state {state!r}; choose one of {', '.join(STATES)}.")
    reason = " ".join(reason.split())
    if state != OPEN and not reason:
        raise TriageError("Say why (the reason is kept with the mark).")
    if len(reason) > MAX_REASON:
        raise TriageError(f"The reason is too long ({len(reason)} characters; at most {MAX_REASON}).")
    if state == ACCEPTED_RISK and (expires_at is None or expires_at <= now):
        raise TriageError("An accepted risk needs an expiry date in the future.")
    return reason


def key(host: str, rule: str) -> tuple[str, str]:
    return host.lower().rstrip("."), rule


def split_triaged(
    findings: Iterable[Finding], marks: dict[tuple[str, str], TriageMark], scan_finished_at: datetime
) -> tuple[list[Finding], list[tuple[Finding, TriageMark]]]:
    """(open findings, triaged findings with their mark) for one scan; one dict lookup per finding."""
    open_: list[Finding] = []
    triaged: list[tuple[Finding, TriageMark]] = []
    for f in findings:
        mark = marks.get(key(f.asset.host_key(), f.rule))
        if mark is not None and mark.hides(scan_finished_at):
            triaged.append((f, mark))
        else:
            open_.append(f)
    return open_, triaged


def retriage_document(doc: dict[str, Any], marks: dict[tuple[str, str], TriageMark], when: datetime) -> dict[str, Any]:
    """A findings.json built without the marks (the cluster's worker has no database), with the marks applied:
    triaged findings move to "triaged", counts and diff counts leave them out."""
    kept: list[dict[str, Any]] = []
    triaged = list(doc.get("triaged") or [])
    diff_counts = dict(doc.get("diff") or {})
    for d in doc.get("findings") or []:
        f = Finding.from_dict(d)
        mark = marks.get(key(f.asset.host_key(), f.rule))
        if mark is not None and mark.hides(when):
            triaged.append({**d, "triage": mark.to_dict()})
            state = d.get("diff_state", "")
            if state in diff_counts:
                diff_counts[state] -= 1
        else:
            kept.append(d)
    counts = dict.fromkeys(SEVERITIES, 0)
    for d in kept:
        counts[d["severity"]] += 1
    return {**doc, "findings": kept, "triaged": triaged, "counts": counts, "diff": diff_counts}


def _iso(t: datetime | None) -> str:
    return t.isoformat() if t else ""
