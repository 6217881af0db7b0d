"""Notification rules (per user, or per schedule) and their evaluation: every finished scan is looked at once;
for each rule that fires a delivery is stored, in the same transaction that marks the scan as looked at, and
then sent. So a crash sends nothing twice and loses nothing: stored deliveries are retried like mail."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from sqlalchemy import CursorResult, delete, or_, select
from sqlalchemy.exc import IntegrityError

from lib.adapters.models import (
    FINAL_STATUSES,
    MAIL_PENDING,
    Delivery,
    FindingRecord,
    NotificationRule,
    NotifiedScan,
    Scan,
    ScheduleRun,
    utcnow,
)
from lib.adapters.notify import Notifier
from lib.core.findings import SEVERITY_RANK
from lib.core.notifications import Change, RuleInvalid, ScanSummary, check_rule, counts_line, mask, matches, payload
from lib.core.schedule_rules import DueRun
from lib.core.scope import Resolver, system_resolver
from lib.services.context import Services
from lib.services.schedules import record_outcome

BATCH = 200  # finished scans looked at per pass (the first pass after an upgrade walks the history once)


@dataclass(frozen=True)
class RuleOutcome:
    rule_id: int = 0
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class RuleView:
    """A rule as the UI shows it: the destination masked (a webhook URL is a credential)."""

    id: int
    owner_email: str
    schedule_id: str
    channel: str
    destination: str
    event: str
    min_severity: str


def add_rule(
    svc: Services,
    owner: str,
    channel: str,
    destination: str,
    event: str,
    min_severity: str = "",
    schedule_id: str = "",
    resolve: Resolver = system_resolver,
) -> RuleOutcome:
    try:
        dest = check_rule(channel, destination, event, min_severity, svc.settings.scope_policy(), owner, resolve)
    except RuleInvalid as e:
        return RuleOutcome(errors=e.errors)
    rule = NotificationRule(
        owner_email=owner.strip().lower(),
        schedule_id=schedule_id,
        channel=channel,
        destination=dest,
        event=event,
        min_severity=min_severity if event == "new_findings" else "",
        created_at=utcnow(),
    )
    with svc.sessions.begin() as s:
        s.add(rule)
        s.flush()
        return RuleOutcome(rule.id)


def list_rules(svc: Services, owner: str = "", schedule_id: str | None = None) -> list[RuleView]:
    with svc.sessions() as s:
        q = select(NotificationRule).order_by(NotificationRule.id)
        if owner:
            q = q.where(NotificationRule.owner_email == owner.lower())
        if schedule_id is not None:
            q = q.where(NotificationRule.schedule_id == schedule_id)
        return [
            RuleView(
                r.id, r.owner_email, r.schedule_id, r.channel, mask(r.channel, r.destination), r.event, r.min_severity
            )
            for r in s.scalars(q)
        ]


def delete_rule(svc: Services, rule_id: int) -> bool:
    with svc.sessions.begin() as s:
        s.execute(delete(Delivery).where(Delivery.rule_id == rule_id))
        res = cast(CursorResult, s.execute(delete(NotificationRule).where(NotificationRule.id == rule_id)))
        return res.rowcount == 1


def summary_of(svc: Services, scan: Scan) -> ScanSummary:
    """The notification's content for a finished scan: counts, what is new and fixed, links to the portal."""
    with svc.sessions() as s:
        rows = s.execute(
            select(FindingRecord.severity, FindingRecord.title, FindingRecord.diff_state).where(
                FindingRecord.scan_id == scan.id, FindingRecord.diff_state.in_(("new", "fixed"))
            )
        ).all()
        run = s.get(ScheduleRun, scan.id)

    def changes(state: str) -> list[Change]:
        found = [Change(sev, title) for sev, title, st in rows if st == state]
        return sorted(found, key=lambda c: (SEVERITY_RANK.get(c.severity, 99), c.title))

    base = svc.settings.public_base_url.rstrip("/")
    note = DueRun(scan.created_at, run.missed, scan.created_at).note() if run else ""
    return ScanSummary(
        scan_id=scan.id,
        target=scan.target,
        status=scan.status,
        reason=scan.status_reason,
        counts=dict(scan.severity_counts or {}),
        new=changes("new"),
        fixed=changes("fixed"),
        report_url=f"{base}/reports?scan={scan.id}",
        progress_url=f"{base}/progress?scan={scan.id}",
        note=note,
    )


def _rules_for(svc: Services, scan: Scan) -> list[NotificationRule]:
    with svc.sessions() as s:
        schedule_id = s.scalar(select(ScheduleRun.schedule_id).where(ScheduleRun.scan_id == scan.id)) or ""
        q = select(NotificationRule).where(
            NotificationRule.owner_email == scan.requester_email.lower(),
            or_(NotificationRule.schedule_id == "", NotificationRule.schedule_id == schedule_id),
            NotificationRule.created_at <= scan.finished_at,
        )
        return list(s.scalars(q.order_by(NotificationRule.id)))


def _unchecked(svc: Services) -> list[Scan]:
    with svc.sessions() as s:
        q = (
            select(Scan)
            .outerjoin(NotifiedScan, NotifiedScan.scan_id == Scan.id)
            .where(Scan.status.in_(FINAL_STATUSES), NotifiedScan.scan_id.is_(None))
            .order_by(Scan.finished_at)
            .limit(BATCH)
        )
        return list(s.scalars(q))


def evaluate_finished(svc: Services, notifier: Notifier, now: datetime | None = None) -> list[int]:
    """Look at every finished scan not yet looked at: store a delivery per rule that fires, then send them.
    Returns the ids of the deliveries stored."""
    now = now or utcnow()
    stored: list[int] = []
    for scan in _unchecked(svc):
        summary = summary_of(svc, scan)
        fired = [r for r in _rules_for(svc, scan) if matches(r.event, r.min_severity, summary)]
        try:
            with svc.sessions.begin() as s:
                s.add(NotifiedScan(scan_id=scan.id, checked_at=now))
                rows = [
                    Delivery(
                        rule_id=r.id,
                        scan_id=scan.id,
                        channel=r.channel,
                        payload=payload(r.channel, r.event, summary),
                        status=MAIL_PENDING,
                        created_at=now,
                    )
                    for r in fired
                ]
                s.add_all(rows)
                s.flush()
                ids = [d.id for d in rows]
        except IntegrityError:  # another process looked at this scan first
            continue
        record_outcome(svc, scan.id, f"{scan.status}: {counts_line(summary.counts)}; {len(summary.new)} new")
        stored += ids
        for delivery_id in ids:
            notifier.attempt(delivery_id, now)
    return stored
