"""Schedule arithmetic: presets, time zones (with a DST change), coalesced missed runs, clear refusals."""

from datetime import UTC, datetime, timedelta

import pytest

from lib.core.schedule_rules import ScheduleInvalid, due, next_run, preset_cron, recurrence


def test_weekly_preset_runs_mondays_at_the_local_time_across_a_dst_change() -> None:
    rec = recurrence(preset_cron("weekly", "09:30", "Monday"), "Europe/Berlin")
    assert rec.cron == "30 9 * * 1"
    before = next_run(rec, datetime(2026, 3, 20, tzinfo=UTC))  # Monday 23 March, CET (UTC+1)
    after = next_run(rec, before)  # Monday 30 March, CEST (UTC+2): the DST change was on the 29th
    assert before == datetime(2026, 3, 23, 8, 30, tzinfo=UTC)
    assert after == datetime(2026, 3, 30, 7, 30, tzinfo=UTC)


def test_daily_preset() -> None:
    rec = recurrence(preset_cron("daily", "23:05"), "UTC")
    assert next_run(rec, datetime(2026, 1, 1, 23, 5, tzinfo=UTC)) == datetime(2026, 1, 2, 23, 5, tzinfo=UTC)


def test_nothing_due_before_the_next_run() -> None:
    rec = recurrence("0 3 * * *", "UTC")
    at = datetime(2026, 1, 2, 3, tzinfo=UTC)
    assert due(rec, at, at - timedelta(seconds=1)) is None
    run = due(rec, at, at)
    assert run is not None and run.missed == 0 and run.note() == ""
    assert run.next_run_at == datetime(2026, 1, 3, 3, tzinfo=UTC)


def test_missed_runs_after_downtime_coalesce_into_one_that_says_so() -> None:
    rec = recurrence("0 3 * * *", "UTC")
    at = datetime(2026, 1, 2, 3, tzinfo=UTC)
    run = due(rec, at, at + timedelta(days=4, hours=1))  # down from the 2nd to the 6th: runs of 3rd..6th missed
    assert run is not None
    assert run.missed == 4
    assert "4 earlier run(s) were missed" in run.note()
    assert run.next_run_at == datetime(2026, 1, 7, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    ("cron", "tz", "field", "words"),
    [
        ("0 3 * *", "UTC", "cron", "five fields"),
        ("61 3 * * *", "UTC", "cron", "five fields"),
        ("* * * * *", "UTC", "cron", "at most once an hour"),
        ("0 3 * * *", "Mars/Olympus", "tz", "not an IANA time zone"),
        ("0 3 * * *", "../../etc/passwd", "tz", "not an IANA time zone"),
        ("0 3 * * *", "", "tz", "not an IANA time zone"),
    ],
)
def test_bad_schedules_are_refused_with_a_clear_message(cron: str, tz: str, field: str, words: str) -> None:
    with pytest.raises(ScheduleInvalid) as e:
        recurrence(cron, tz)
    assert words in e.value.errors[field]


def test_bad_presets() -> None:
    with pytest.raises(ScheduleInvalid) as e:
        preset_cron("weekly", "25:00", "someday")
    assert set(e.value.errors) == {"at", "weekday"}
    with pytest.raises(ScheduleInvalid) as e:
        preset_cron("hourly")
    assert "preset" in e.value.errors
