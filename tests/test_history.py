"""lib.insights.history_queries and history_aggregates on a small, known set of scans in a real (SQLite) database:
exact numbers behind every chart and KPI, filters the same in SQL (table, CSV) and in pandas (charts), the URL round
trip, and the incremental scan facts."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import delete, update

from lib.adapters.db import make_engine, migrate, session_factory
from lib.adapters.models import Scan, Step
from lib.core.roles import LOCAL_VIEWER, Viewer
from lib.insights.history_aggregates import apply_filters, build_view, history_view
from lib.insights.history_charts import history_figures
from lib.insights.history_queries import HistoryFilters, ScanFacts, export_csv, table_rows

D = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
ALL = HistoryFilters(start=date(2026, 3, 1), end=date(2026, 3, 15))


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def add_scan(
    s,
    sid,
    host,
    email,
    status,
    requested,
    scanners,
    *,
    confirm_after=None,
    run_s=None,
    severity=None,
    diff=None,
    report=False,
    steps=(),
):
    confirmed = requested + confirm_after if confirm_after is not None else None
    started = confirmed + minutes(1) if confirmed is not None and run_s is not None else None
    finished = started + timedelta(seconds=run_s) if started is not None else None
    s.add(
        Scan(
            id=sid,
            target=f"https://{host}/",
            host=host,
            requester_email=email,
            scanners={n: {} for n in scanners},
            status=status,
            created_at=requested,
            confirmed_at=confirmed,
            started_at=started,
            finished_at=finished,
            severity_counts=severity or {},
            diff_counts=diff or {},
            report_key=f"reports/{sid}/" if report else "",
        )
    )
    s.flush()
    for name, state, seconds in steps:
        s.add(
            Step(
                scan_id=sid,
                name=name,
                state=state,
                started_at=started,
                finished_at=started + timedelta(seconds=seconds),
            )
        )


def seeded(url: str):
    db = make_engine(url)
    migrate(db)
    sessions = session_factory(db)
    with sessions.begin() as s:
        add_scan(
            s,
            "aaaaaaaaaaa1",
            "a.example.com",
            "ana@example.com",
            "succeeded",
            D + timedelta(hours=10),
            ["web", "tls"],
            confirm_after=minutes(5),
            run_s=600,
            report=True,
            severity={"critical": 1, "high": 2, "medium": 0, "low": 0, "info": 0},
            diff={"new": 3, "fixed": 0},
            steps=[("web", "succeeded", 300), ("tls", "succeeded", 60)],
        )
        add_scan(
            s,
            "aaaaaaaaaaa2",
            "a.example.com",
            "bob@example.com",
            "partial",
            D + timedelta(days=1, hours=9),
            ["portscan", "web"],
            confirm_after=minutes(1),
            run_s=300,
            report=True,
            severity={"high": 1, "low": 4},
            diff={"new": 1, "fixed": 2, "unchanged": 2},
            steps=[("portscan", "failed", 120), ("web", "succeeded", 180)],
        )
        add_scan(
            s,
            "bbbbbbbbbbb3",
            "b.example.org",
            "ana@example.com",
            "failed",
            D + timedelta(days=1, hours=12),
            ["tls"],
            confirm_after=minutes(2),
            run_s=100,
            steps=[("tls", "failed", 50)],
        )
        add_scan(
            s,
            "ccccccccccc4",
            "shop.a.example.com",
            "ana@example.com",
            "succeeded",
            D + timedelta(days=8),
            ["web"],
            confirm_after=minutes(10),
            run_s=400,
            report=True,
            severity={"critical": 2},
            diff={"new": 2, "fixed": 1},
            steps=[("web", "succeeded", 240)],
        )
        add_scan(
            s,
            "ddddddddddd5",
            "c.example.net",
            "ana@example.com",
            "awaiting_confirmation",
            D + timedelta(days=8, hours=1),
            ["portscan"],
        )
        add_scan(
            s,
            "eeeeeeeeeee6",
            "a.example.com",
            "ana@example.com",
            "succeeded",
            D - timedelta(days=30),
            ["web"],
            confirm_after=minutes(1),
            run_s=60,
            report=True,
            severity={"critical": 9},
        )  # out of range
    return sessions


@pytest.fixture
def sessions(tmp_path):
    s = seeded(f"sqlite:///{tmp_path / 'h.db'}")
    yield s
    s.kw["bind"].dispose()


@pytest.fixture
def view(sessions):
    return history_view(ScanFacts(sessions), ALL)


def day(offset: int) -> pd.Timestamp:
    return pd.Timestamp(D.replace(tzinfo=None)) + pd.Timedelta(days=offset)


def test_kpis(view):
    k = view.kpis
    assert (k.scans, k.finished, k.targets) == (5, 4, 4)
    assert k.success_rate == 0.5  # 2 succeeded of 4 finished (partial and failed count against)
    assert k.median_duration_s == 350.0  # 600, 300, 100, 400
    # open = each host's newest reported scan: a.example.com -> scan 2, shop.a.example.com -> scan 4
    assert k.open_by_severity == {"critical": 2, "high": 1, "medium": 0, "low": 4, "info": 0}


def test_scans_per_day_stacked_by_outcome(view):
    got = {(r.day, r.outcome): r.scans for r in view.per_day.itertuples()}
    assert got == {
        (day(0), "succeeded"): 1,
        (day(1), "partial"): 1,
        (day(1), "failed"): 1,
        (day(8), "succeeded"): 1,
        (day(8), "awaiting_confirmation"): 1,
    }


def test_findings_by_severity_over_time(view):
    f = view.severity_over_time
    got = {(r.day, r.severity): r.findings for r in f[f["findings"] > 0].itertuples()}
    assert got == {
        (day(0), "critical"): 1,
        (day(0), "high"): 2,
        (day(1), "high"): 1,
        (day(1), "low"): 4,
        (day(8), "critical"): 2,
    }  # the failed scan has no report: nothing reported


def test_top_targets_by_open_high_and_critical(view):
    t = view.top_targets
    assert list(t["host"]) == ["shop.a.example.com", "a.example.com"]
    assert list(t["open_high_critical"]) == [2, 1]
    assert list(t["scan"]) == ["ccccccccccc4", "aaaaaaaaaaa2"]  # the newest reported scan, not the first


def test_new_vs_fixed_per_week(view):
    got = {(r.week, r.change): r.findings for r in view.new_vs_fixed.itertuples()}
    assert got == {(day(0), "new"): 4, (day(0), "fixed"): 2, (day(7), "new"): 2, (day(7), "fixed"): 1}


def test_time_from_request_to_confirmation_to_report(view):
    got = {(r.week, r.stage): (r.median_min, r.scans) for r in view.lifecycle.itertuples()}
    # week 0: scans 1 (5 min, then 1 + 10 = 11 min) and 2 (1 min, then 1 + 5 = 6 min); the failed scan has no report
    assert got == {
        (day(0), "request → confirmation"): (3.0, 2),
        (day(0), "confirmation → report"): (8.5, 2),
        (day(7), "request → confirmation"): (10.0, 1),
        (day(7), "confirmation → report"): (pytest.approx(7 + 2 / 3), 1),
    }


def test_duration_distribution_per_scanner_from_steps(view):
    stats = view.duration_stats.set_index("scanner")
    assert stats.loc["web", "steps"] == 3 and stats.loc["web", "median_s"] == 240.0
    assert stats.loc["tls", "steps"] == 2 and stats.loc["tls", "median_s"] == 55.0 and stats.loc["tls", "failed"] == 1
    assert stats.loc["portscan", "failed"] == 1
    d = view.durations
    assert d.groupby("scanner")["steps"].sum().to_dict() == {"portscan": 1, "tls": 2, "web": 3}
    assert (d["bin_end_s"] > d["bin_start_s"]).all()


@pytest.mark.parametrize(
    "filters, expected",
    [
        (ALL, {"aaaaaaaaaaa1", "aaaaaaaaaaa2", "bbbbbbbbbbb3", "ccccccccccc4", "ddddddddddd5"}),
        (HistoryFilters(start=date(2026, 3, 2), end=date(2026, 3, 2)), {"aaaaaaaaaaa1"}),
        (
            HistoryFilters(start=ALL.start, end=ALL.end, domain="a.example.com"),
            {"aaaaaaaaaaa1", "aaaaaaaaaaa2", "ccccccccccc4"},
        ),  # the host and its subdomains, not b.example.org
        (
            HistoryFilters(start=ALL.start, end=ALL.end, domain="example.com"),
            {"aaaaaaaaaaa1", "aaaaaaaaaaa2", "ccccccccccc4"},
        ),
        (HistoryFilters(start=ALL.start, end=ALL.end, requester="bob@example.com"), {"aaaaaaaaaaa2"}),
        (
            HistoryFilters(start=ALL.start, end=ALL.end, statuses=("failed", "partial")),
            {"aaaaaaaaaaa2", "bbbbbbbbbbb3"},
        ),
        (HistoryFilters(start=ALL.start, end=ALL.end, scanners=("portscan",)), {"aaaaaaaaaaa2", "ddddddddddd5"}),
        (
            HistoryFilters(start=ALL.start, end=ALL.end, scanners=("tls",), requester="ana@example.com"),
            {"aaaaaaaaaaa1", "bbbbbbbbbbb3"},
        ),
    ],
)
def test_filters_select_the_same_scans_in_sql_and_in_the_facts(sessions, filters, expected):
    assert set(table_rows(sessions, filters)["scan"]) == expected
    assert set(apply_filters(ScanFacts(sessions).frame(), filters)["scan"]) == expected
    assert history_view(ScanFacts(sessions), filters).kpis.scans == len(expected)


def test_filters_round_trip_through_the_url_and_ignore_garbage():
    f = HistoryFilters(
        start=date(2026, 3, 1),
        end=date(2026, 3, 9),
        domain="a.example.com",
        requester="ana@example.com",
        statuses=("succeeded", "failed"),
        scanners=("web",),
    )
    params = f.to_query_params()
    assert params == {
        "from": "2026-03-01",
        "to": "2026-03-09",
        "domain": "a.example.com",
        "requester": "ana@example.com",
        "status": "succeeded,failed",
        "scanner": "web",
    }
    assert HistoryFilters.from_query_params(params) == f
    junk = HistoryFilters.from_query_params(
        {
            "from": "yesterday",
            "to": "2026-02-30",
            "status": "bogus,failed",
            "scanner": "rm -rf",
            "domain": " A.Example.COM. ",
        },
        today=date(2026, 3, 9),
    )
    assert junk == HistoryFilters(
        start=date(2026, 2, 8), end=date(2026, 3, 9), domain="a.example.com", statuses=("failed",)
    )
    swapped = HistoryFilters.from_query_params({"from": "2026-03-09", "to": "2026-03-01"})
    assert (swapped.start, swapped.end) == (date(2026, 3, 1), date(2026, 3, 9))


def test_table_links_and_csv_export(sessions):
    rows = table_rows(sessions, ALL, limit=2)
    assert list(rows["scan"]) == ["ddddddddddd5", "ccccccccccc4"]  # newest first
    assert rows.loc[1, "progress"] == "/progress?scan=ccccccccccc4"
    assert rows.loc[1, "report"] == "/reports?scan=ccccccccccc4"
    assert pd.isna(rows.loc[0, "report"])  # no report yet
    records = list(csv.DictReader(io.StringIO(export_csv(sessions, ALL).decode())))
    assert len(records) == 5
    first = next(r for r in records if r["scan"] == "aaaaaaaaaaa1")
    assert first["requested"] == "2026-03-02T10:00:00Z" and first["critical"] == "1" and first["new"] == "3"
    assert first["scanners"] == "tls, web" and first["progress"] == "/progress?scan=aaaaaaaaaaa1"


def test_scan_facts_refresh_incrementally_and_reload_on_delete(sessions):
    clock = [0.0]
    facts = ScanFacts(sessions, ttl_s=30, clock=lambda: clock[0])
    assert len(facts.frame()) == 6 and facts.full_loads == 1
    with sessions.begin() as s:  # a scan finishes, a new one arrives
        s.execute(update(Scan).where(Scan.id == "ddddddddddd5").values(status="failed"))
        add_scan(s, "fffffffffff7", "d.example.com", "bob@example.com", "queued", D + timedelta(days=9), ["web"])
    assert len(facts.frame()) == 6  # within the TTL: the same frame
    clock[0] = 31
    frame = facts.frame().set_index("scan")
    assert (facts.full_loads, facts.refreshes) == (1, 1)
    assert frame.loc["ddddddddddd5", "status"] == "failed" and "fffffffffff7" in frame.index
    with sessions.begin() as s:
        s.execute(delete(Scan).where(Scan.id == "bbbbbbbbbbb3"))
    clock[0] = 62
    assert "bbbbbbbbbbb3" not in set(facts.frame()["scan"]) and facts.full_loads == 2


def test_every_chart_is_drawn_from_the_view(view):
    figs = history_figures(view)
    assert set(figs) == {"per_day", "severity", "durations", "top_targets", "new_vs_fixed", "lifecycle"}
    assert {t.name for t in figs["per_day"].data} == {"succeeded", "partial", "failed", "awaiting_confirmation"}
    top = {t.name: list(t.y) for t in figs["top_targets"].data}
    assert top["critical"] == ["shop.a.example.com", "a.example.com"]
    assert {t.name for t in figs["durations"].data} == {"Port scan", "Web baseline", "TLS"}


def test_empty_selection_gives_empty_charts_not_errors(sessions):
    v = build_view(
        HistoryFilters(start=date(2020, 1, 1), end=date(2020, 1, 2)),
        ScanFacts(sessions).frame(),
        table_rows(sessions, HistoryFilters(start=date(2020, 1, 1), end=date(2020, 1, 2))),
    )
    assert v.kpis.scans == 0 and v.kpis.success_rate is None and v.kpis.median_duration_s is None
    assert len(history_figures(v)) == 6


@pytest.mark.slow
def test_the_same_numbers_on_postgresql(sessions):
    """The production database: JSON members, datetimes and filters read the same way as on SQLite."""
    from tests.postgres_server import postgres

    with postgres() as url:
        pg = seeded(url)
        try:
            for filters in (
                ALL,
                HistoryFilters(start=ALL.start, end=ALL.end, domain="a.example.com", scanners=("web",)),
            ):
                a, b = history_view(ScanFacts(sessions), filters), history_view(ScanFacts(pg), filters)
                assert a.kpis == b.kpis
                for name in (
                    "per_day",
                    "severity_over_time",
                    "top_targets",
                    "new_vs_fixed",
                    "lifecycle",
                    "duration_stats",
                ):
                    pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_dtype=False)
                pd.testing.assert_frame_equal(a.rows, b.rows, check_dtype=False)
            assert export_csv(pg, ALL) == export_csv(sessions, ALL)
        finally:
            pg.kw["bind"].dispose()


def _one_scan_view(tmp_path):
    """One scan, requested and finished on one day: the smallest history a new portal shows."""
    sessions = session_factory(make_engine(f"sqlite:///{tmp_path / 'one.db'}"))
    migrate(sessions.kw["bind"])
    with sessions.begin() as s:
        add_scan(
            s,
            "fffffffffff1",
            "a.example.com",
            "ana@example.com",
            "succeeded",
            D + timedelta(hours=10),
            ["web"],
            confirm_after=minutes(2),
            run_s=120,
            report=True,
            severity={"high": 1},
            diff={"new": 1, "fixed": 0},
            steps=[("web", "succeeded", 100)],
        )
    try:
        return history_view(ScanFacts(sessions), ALL)
    finally:
        sessions.kw["bind"].dispose()


@pytest.mark.parametrize(
    ("name", "unit"),
    [("per_day", 1), ("severity", 1), ("new_vs_fixed", 7), ("lifecycle", 7)],
)
def test_time_charts_of_one_scan_count_in_days_not_milliseconds(tmp_path, name, unit):
    fig = history_figures(_one_scan_view(tmp_path))[name]
    axis = fig.layout.xaxis
    one_day = pd.Timedelta(days=1)
    assert axis.type == "date"
    assert axis.dtick == unit * one_day / pd.Timedelta(milliseconds=1)  # a tick per day (per week)
    assert "%H" not in axis.tickformat and "%L" not in axis.tickformat  # the labels are dates, not clock times
    lo, hi = (pd.Timestamp(x) for x in axis.range)
    assert hi - lo >= unit * one_day
    bars = [t for t in fig.data if len(t.x)]
    assert bars, "the one scan is drawn"
    for t in bars:
        assert (lo <= pd.Timestamp(t.x[0]) <= hi) and pd.Timedelta(milliseconds=t.width) >= 0.3 * unit * one_day


def test_a_month_of_scans_keeps_the_day_ticks_readable(view):
    """Two weeks of data: ticks stay whole days, but no more than about ten of them."""
    axis = history_figures(view)["per_day"].layout.xaxis
    ticks = (pd.Timestamp(axis.range[1]) - pd.Timestamp(axis.range[0])) / pd.Timedelta(milliseconds=axis.dtick)
    assert axis.dtick % (24 * 3600 * 1000) == 0 and ticks <= 11


def test_a_viewer_who_does_not_see_every_scan_is_held_to_their_own_whatever_the_url_says() -> None:
    asked = HistoryFilters.from_query_params({"requester": "boss@example.com", "domain": "example.com"})
    ana = Viewer(email="ana@example.com", roles=frozenset({"analyst"}), signed_in=True)
    boss = Viewer(email="boss@example.com", roles=frozenset({"manager"}), signed_in=True)
    assert asked.visible_to(ana).requester == "ana@example.com"
    assert asked.visible_to(ana).domain == "example.com"
    assert asked.visible_to(boss).requester == "boss@example.com"
    assert HistoryFilters(requester="x@example.com").visible_to(LOCAL_VIEWER).requester == "x@example.com"


def test_small_counts_tick_in_whole_units_and_short_steps_read_in_seconds(tmp_path):
    figs = history_figures(_one_scan_view(tmp_path))
    assert figs["per_day"].layout.yaxis.dtick == 1 and figs["per_day"].layout.yaxis.range[1] >= 1
    assert figs["top_targets"].layout.xaxis.dtick == 1  # one open high finding
    durations = figs["durations"]
    assert durations.layout.xaxis.title.text == "duration (seconds, bin start)"  # the one step took 100 s
    assert max(max(t.x) for t in durations.data) < 100


def test_charts_with_nothing_to_draw_say_why(sessions):
    none = HistoryFilters(start=date(2020, 1, 1), end=date(2020, 1, 2))
    figs = history_figures(build_view(none, ScanFacts(sessions).frame(), table_rows(sessions, none)))
    for name, note in (("top_targets", "No critical or high"), ("new_vs_fixed", "No changes yet")):
        assert [a.text for a in figs[name].layout.annotations if note in a.text], name
        assert figs[name].layout.xaxis.visible is False
