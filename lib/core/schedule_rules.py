"""When a recurring scan runs: a cron expression (or a daily/weekly preset) in an IANA time zone. Pure arithmetic;
the schedules themselves live in the database (lib/services/schedules.py).

Runs missed while the portal was down are coalesced: one run, which says how many were missed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterError, croniter

MIN_INTERVAL = timedelta(hours=1)  # a schedule is not a way round the per-hour request limit
MAX_COUNTED_MISSES = 10_000  # beyond this the count says "at least"
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
PRESETS = ("daily", "weekly")


class ScheduleInvalid(ValueError):
    """`errors` maps a form field (cron, tz, preset, at) to a message a user can act on."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class Recurrence:
    cron: str
    tz: str

    def describe(self) -> str:
        return f"cron '{self.cron}' ({self.tz})"


@dataclass(frozen=True)
class DueRun:
    """A run to start now: `missed` runs before it were not started (the portal was down) and are folded in."""

    scheduled_for: datetime
    missed: int
    next_run_at: datetime

    def note(self) -> str:
        if not self.missed:
            return ""
        more = "at least " if self.missed >= MAX_COUNTED_MISSES else ""
        return f"{more}{self.missed} earlier run(s) were missed while scanboard was down; this one run covers them"


def preset_cron(preset: str, at: str = "03:00", weekday: str = "monday") -> str:
    """The cron expression of a preset: daily at HH:MM, or weekly on a weekday at HH:MM."""
    errors: dict[str, str] = {}
    if preset not in PRESETS:
        errors["preset"] = f"Choose one of {', '.join(PRESETS)}, or give a cron expression."
    hour, minute = _clock(at, errors)
    day = (weekday or "").strip().lower()
    if preset == "weekly" and day not in WEEKDAYS:
        errors["weekday"] = f"The weekday must be one of {', '.join(WEEKDAYS)}."
    if errors:
        raise ScheduleInvalid(errors)
    dow = "*" if preset == "daily" else str((WEEKDAYS.index(day) + 1) % 7)
    return f"{minute} {hour} * * {dow}"


def _clock(at: str, errors: dict[str, str]) -> tuple[int, int]:
    try:
        hh, mm = (at or "").strip().split(":")
        hour, minute = int(hh), int(mm)
        if 0 <= hour < 24 and 0 <= minute < 60:
            return hour, minute
    except ValueError:
        pass
    errors["at"] = "The time must be HH:MM on a 24-hour clock, e.g. 03:00."
    return 0, 0


def zone(tz: str) -> ZoneInfo:
    """The IANA time zone, or ScheduleInvalid."""
    name = (tz or "").strip()
    try:
        if not name or name.startswith("/") or ".." in name:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleInvalid({"tz": f"'{name}' is not an IANA time zone; use e.g. UTC or Europe/Berlin."}) from None


def recurrence(cron: str, tz: str) -> Recurrence:
    """A checked recurrence: a 5-field cron expression that runs at most once an hour, in a real time zone."""
    errors: dict[str, str] = {}
    expr = " ".join((cron or "").split())
    if len(expr.split(" ")) != 5 or not croniter.is_valid(expr):
        errors["cron"] = (
            "Give a cron expression of five fields: minute hour day-of-month month day-of-week, e.g. '0 3 * * 1' "
            "(Mondays at 03:00)."
        )
    try:
        zone(tz)
    except ScheduleInvalid as e:
        errors.update(e.errors)
    rec = Recurrence(expr, (tz or "").strip())
    if "cron" not in errors and (gap := _shortest_gap(Recurrence(expr, "UTC"))) < MIN_INTERVAL:
        errors["cron"] = f"This runs every {gap}; a schedule may run at most once an hour."
    if errors:
        raise ScheduleInvalid(errors)
    return rec


def _shortest_gap(rec: Recurrence, samples: int = 60) -> timedelta:
    it = croniter(rec.cron, datetime(2026, 1, 1, tzinfo=zone(rec.tz)))
    times = [it.get_next(datetime) for _ in range(samples)]
    return min(b - a for a, b in pairwise(times))


def next_run(rec: Recurrence, after: datetime) -> datetime:
    """The first run strictly after `after`, in UTC."""
    if after.tzinfo is None:
        raise ValueError("naive datetime; pass an aware one")
    try:
        at = croniter(rec.cron, after.astimezone(zone(rec.tz))).get_next(datetime)
    except CroniterError as e:  # a valid expression with no future run, e.g. 30 February
        raise ScheduleInvalid({"cron": f"This cron expression never runs: {e}"}) from None
    return at.astimezone(UTC)


def due(rec: Recurrence, next_run_at: datetime, now: datetime) -> DueRun | None:
    """The run to start at `now`, or None when the next one is still ahead. Every run between `next_run_at`
    and `now` collapses into this one; `next_run_at` of the result is the first run after `now`."""
    if now < next_run_at:
        return None
    missed, at = 0, next_run(rec, next_run_at)
    while at <= now and missed < MAX_COUNTED_MISSES:
        missed += 1
        at = next_run(rec, at)
    return DueRun(scheduled_for=next_run_at, missed=missed, next_run_at=next_run(rec, now))
