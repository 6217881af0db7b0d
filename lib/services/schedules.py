"""Recurring scans. A schedule is checked like a scan request when it is made (validation, scope policy,
ownership proof) and again at every run; each run is an ordinary queued scan, so History, the diff, triage and
the limits treat it like any other. `run_due(now)` is the scheduler's one duty; the runtime calls it each tick
with its clock, and tests with theirs."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Executable, delete, select, update
from sqlalchemy.orm import Session

from lib.adapters.models import QUEUED, VIA_SCHEDULE, Scan, Schedule, ScheduleRun, utcnow
from lib.core.limit_rules import LimitExceeded, keys_for
from lib.core.ownership_rules import new_token as new_ownership_token
from lib.core.schedule_rules import DueRun, Recurrence, ScheduleInvalid, due, next_run, preset_cron, recurrence
from lib.core.scope import Resolver, system_resolver
from lib.core.validation import RequestInvalid, ScanRequest, validate_request
from lib.services.context import Services
from lib.services.intake import new_scan_id
from lib.services.limits import check_running, lock
from lib.services.ownership import Proof, prove
from lib.services.ownership import instructions as ownership_instructions

ProofCheck = Callable[[str, str], Proof]  # (target, token) -> Proof
WAITING_FOR_PROOF = "waiting for the ownership proof"


@dataclass(frozen=True)
class ScheduleOutcome:
    schedule_id: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    message: str = ""  # what happens next (e.g. how to prove ownership)

    @property
    def ok(self) -> bool:
        return not self.errors


def when(cron: str = "", preset: str = "", at: str = "03:00", weekday: str = "monday", tz: str = "UTC") -> Recurrence:
    """The recurrence a form or API call describes: a cron expression, else a preset."""
    return recurrence(cron if cron.strip() else preset_cron(preset, at, weekday), tz)


def _checked(
    svc: Services,
    target: str,
    owner: str,
    scanners: dict[str, dict[str, Any]],
    rec: Callable[[], Recurrence],
    resolve: Resolver,
) -> tuple[ScanRequest | None, Recurrence | None, dict[str, str]]:
    errors: dict[str, str] = {}
    req = rule = None
    try:
        req = validate_request(target, owner, scanners, svc.settings.scope_policy(), resolve)
    except RequestInvalid as e:
        errors.update(e.errors)
    try:
        rule = rec()
    except ScheduleInvalid as e:
        errors.update(e.errors)
    return req, rule, errors


def create(
    svc: Services,
    owner: str,
    target: str,
    scanners: dict[str, dict[str, Any]],
    rec: Callable[[], Recurrence],
    now: datetime | None = None,
    resolve: Resolver = system_resolver,
    check: ProofCheck | None = None,
) -> ScheduleOutcome:
    """Store a schedule whose target passes validation and the scope policy; where ownership proof is required,
    the schedule stays paused until the proof is there (checked now, and again on resume and at every run)."""
    now = now or utcnow()
    req, rule, errors = _checked(svc, target, owner, scanners, rec, resolve)
    if errors or req is None or rule is None:
        return ScheduleOutcome(errors=errors)
    token = new_ownership_token() if svc.settings.ownership_required(req.host) else ""
    proof = _proof(svc, req.target, token, check)
    sched = Schedule(
        id=secrets.token_hex(6),
        owner_email=req.email,
        target=req.target,
        host=req.host,
        scanners=req.scanners,
        cron=rule.cron,
        tz=rule.tz,
        paused=not proof.ok,
        paused_reason="" if proof.ok else f"{WAITING_FOR_PROOF}: {proof.detail}",
        ownership_token=token,
        next_run_at=next_run(rule, now),
        last_scan_id="",
        last_outcome="",
        created_at=now,
    )
    with svc.sessions.begin() as s:
        s.add(sched)
    message = f"First run {sched.next_run_at:%Y-%m-%d %H:%M} UTC."
    if not proof.ok:
        message = "Paused until you prove you own the target, then resume it.\n" + ownership_instructions(
            req.target, token
        )
    return ScheduleOutcome(schedule_id=sched.id, message=message)


def _proof(svc: Services, target: str, token: str, check: ProofCheck | None) -> Proof:
    if not token:
        return Proof(True, "no ownership proof required")
    policy = svc.settings.scope_policy()
    return (check or (lambda t, k: prove(t, k, policy)))(target, token)


def _changed(s: Session, stmt: Executable) -> bool:
    """Run an UPDATE/DELETE; True when it hit exactly one row (the claim succeeded)."""
    return cast(CursorResult, s.execute(stmt)).rowcount == 1


def list_schedules(svc: Services, owner: str = "") -> list[Schedule]:
    """Every schedule (of one owner when given), soonest first."""
    with svc.sessions() as s:
        q = select(Schedule).order_by(Schedule.next_run_at)
        return list(s.scalars(q.where(Schedule.owner_email == owner) if owner else q))


def pause(svc: Services, schedule_id: str, reason: str = "paused by its owner") -> bool:
    with svc.sessions.begin() as s:
        return _changed(s, update(Schedule).where(Schedule.id == schedule_id).values(paused=True, paused_reason=reason))


def resume(
    svc: Services, schedule_id: str, now: datetime | None = None, check: ProofCheck | None = None
) -> ScheduleOutcome:
    """Unpause, if the ownership proof (where required) is there; the next run is the next one from now, so a
    long pause does not end in a burst of missed runs."""
    now = now or utcnow()
    with svc.sessions() as s:
        sched = s.get(Schedule, schedule_id)
    if sched is None:
        return ScheduleOutcome(errors={"schedule": "No such schedule."})
    proof = _proof(svc, sched.target, sched.ownership_token, check)
    if not proof.ok:
        pause(svc, schedule_id, f"{WAITING_FOR_PROOF}: {proof.detail}")
        return ScheduleOutcome(schedule_id, {"ownership": f"Still paused: {proof.detail}"})
    upcoming = next_run(Recurrence(sched.cron, sched.tz), now)
    with svc.sessions.begin() as s:
        s.execute(
            update(Schedule)
            .where(Schedule.id == schedule_id)
            .values(paused=False, paused_reason="", next_run_at=upcoming)
        )
    return ScheduleOutcome(schedule_id, message=f"Resumed; next run {upcoming:%Y-%m-%d %H:%M} UTC.")


def delete_schedule(svc: Services, schedule_id: str) -> bool:
    """Delete the schedule; the scans it started stay in History."""
    with svc.sessions.begin() as s:
        s.execute(delete(ScheduleRun).where(ScheduleRun.schedule_id == schedule_id))
        return _changed(s, delete(Schedule).where(Schedule.id == schedule_id))


def run_due(
    svc: Services, now: datetime, resolve: Resolver = system_resolver, check: ProofCheck | None = None
) -> list[str]:
    """Start every schedule that is due at `now`, once (missed runs coalesce); returns the new scans' ids."""
    with svc.sessions() as s:
        ready = list(s.scalars(select(Schedule).where(Schedule.paused.is_(False), Schedule.next_run_at <= now)))
    started = []
    for sched in ready:
        try:
            run = due(Recurrence(sched.cron, sched.tz), sched.next_run_at, now)
        except ScheduleInvalid as e:  # e.g. a time zone gone from a newer tz database: this schedule only
            pause(svc, sched.id, f"its timing no longer works: {e}")
            continue
        if run is None or not _claim(svc, sched, run):
            continue  # another process (or tick) took this run
        scan_id = _start_run(svc, sched, run, now, resolve, check)
        if scan_id:
            started.append(scan_id)
    for scan_id in started:
        svc.engine.submit(scan_id)
    return started


def _claim(svc: Services, sched: Schedule, run: DueRun) -> bool:
    """Move the schedule on to its next run; only one of any number of concurrent schedulers succeeds."""
    with svc.sessions.begin() as s:
        return _changed(
            s,
            update(Schedule)
            .where(Schedule.id == sched.id, Schedule.next_run_at == sched.next_run_at, Schedule.paused.is_(False))
            .values(next_run_at=run.next_run_at),
        )


def _start_run(
    svc: Services, sched: Schedule, run: DueRun, now: datetime, resolve: Resolver, check: ProofCheck | None
) -> str:
    """Check the target again and queue its scan; pause the schedule (saying why) when it no longer passes."""
    try:
        req = validate_request(sched.target, sched.owner_email, sched.scanners, svc.settings.scope_policy(), resolve)
    except RequestInvalid as e:
        pause(svc, sched.id, f"the target no longer passes the checks: {'; '.join(e.errors.values())}")
        return ""
    proof = _proof(svc, req.target, sched.ownership_token, check)
    if not proof.ok:
        pause(svc, sched.id, f"the ownership proof lapsed: {proof.detail}")
        return ""
    scan_id = new_scan_id()
    reason = f"scheduled run of schedule {sched.id}" + (f"; {run.note()}" if run.missed else "")
    try:
        with svc.sessions.begin() as s:
            lock(s, keys_for(req.email, ""), now)
            check_running(s, req.email, svc.settings.limits())
            s.add(_scan(scan_id, sched, req, now, reason, bool(sched.ownership_token)))
            s.add(
                ScheduleRun(scan_id=scan_id, schedule_id=sched.id, scheduled_for=run.scheduled_for, missed=run.missed)
            )
            outcome = f"started scan {scan_id}" + (f" ({run.note()})" if run.missed else "")
            s.execute(
                update(Schedule)
                .where(Schedule.id == sched.id)
                .values(last_run_at=now, last_scan_id=scan_id, last_outcome=outcome)
            )
    except LimitExceeded as e:
        _note(svc, sched.id, f"run of {now:%Y-%m-%d %H:%M} UTC skipped: {e}")
        return ""
    return scan_id


def _scan(scan_id: str, sched: Schedule, req: ScanRequest, now: datetime, reason: str, proven: bool) -> Scan:
    return Scan(
        id=scan_id,
        target=req.target,
        host=req.host,
        requester_email=req.email,
        client_id="",
        scanners=req.scanners,
        status=QUEUED,
        status_reason=reason,
        token_jti="",
        created_at=now,
        confirmed_at=now,  # the owner confirmed the schedule; each run needs no new link
        ownership_token=sched.ownership_token,
        ownership_verified_at=now if proven else None,
        requested_via=VIA_SCHEDULE,  # the API tells a schedule's runs from scans asked for by hand
    )


def _note(svc: Services, schedule_id: str, outcome: str) -> None:
    with svc.sessions.begin() as s:
        s.execute(update(Schedule).where(Schedule.id == schedule_id).values(last_outcome=outcome))


def record_outcome(svc: Services, scan_id: str, outcome: str) -> None:
    """The finished scan's outcome on the schedule that started it (if any)."""
    with svc.sessions.begin() as s:
        schedule_id = s.scalar(select(ScheduleRun.schedule_id).where(ScheduleRun.scan_id == scan_id))
        if schedule_id:
            s.execute(
                update(Schedule)
                .where(Schedule.id == schedule_id, Schedule.last_scan_id == scan_id)
                .values(last_outcome=outcome)
            )


def schedule_of(svc: Services, scan_id: str) -> ScheduleRun | None:
    with svc.sessions() as s:
        return s.get(ScheduleRun, scan_id)
