"""Scan history, the pandas half: the facts frame (lib.insights.history_queries) -> the aggregates every chart and
KPI of the history page shows, and the HistoryView that bundles them per filter set.

Why in memory: filters and aggregates are pandas over the per-process facts, so any filter over 100,000 scans
answers at once. Nothing here imports Streamlit: the page caches views with st.cache_data(ttl=...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from lib.adapters.models import FAILED, FINAL_STATUSES, PARTIAL, SUCCEEDED
from lib.core.findings import SEVERITIES
from lib.core.pipeline import SCANNERS
from lib.insights.history_queries import DIFF_KEYS, HistoryFilters, ScanFacts, table_rows

OUTCOME_ORDER = (SUCCEEDED, PARTIAL, FAILED, "running", "queued", "awaiting_confirmation")
DURATION_BINS = 20


def apply_filters(frame: pd.DataFrame, filters: HistoryFilters) -> pd.DataFrame:
    """The same selection as HistoryFilters.where(), on the facts frame."""
    keep = pd.Series(True, index=frame.index)
    if filters.start:
        keep &= frame["requested"] >= pd.Timestamp(filters.start, tz="UTC")
    if filters.end:
        keep &= frame["requested"] < pd.Timestamp(filters.end + timedelta(days=1), tz="UTC")
    if filters.domain:
        hosts = pd.Series(frame["host"].unique(), dtype=object)
        wanted = hosts[(hosts == filters.domain) | hosts.str.endswith("." + filters.domain)]
        keep &= frame["host"].isin(wanted)
    if filters.requester:
        keep &= frame["requester"] == filters.requester
    if filters.statuses:
        keep &= frame["status"].isin(filters.statuses)
    if filters.scanners:
        keep &= frame[[f"req_{n}" for n in filters.scanners]].any(axis=1)
    return frame[keep]


# ------------------------------------------------------------------------------------------------ aggregates


@dataclass(frozen=True)
class HistoryKpis:
    scans: int
    finished: int
    success_rate: float | None  # succeeded / finished (partial and failed count against it)
    median_duration_s: float | None
    open_by_severity: dict[str, int]  # findings of each target's newest reported scan
    targets: int


def latest_reported(frame: pd.DataFrame) -> pd.DataFrame:
    """Each host's newest finished scan with a report: its findings are the host's open findings."""
    done = frame.loc[frame["has_report"] & frame["finished"].notna(), ["scan", "host", "finished", *SEVERITIES]]
    return done.sort_values("finished").drop_duplicates("host", keep="last")


def kpis(frame: pd.DataFrame) -> HistoryKpis:
    finished = frame[frame["status"].isin(FINAL_STATUSES)]
    succeeded = int((finished["status"] == SUCCEEDED).sum())
    durations = finished["duration_s"].dropna()
    open_rows = latest_reported(frame)
    return HistoryKpis(
        scans=len(frame),
        finished=len(finished),
        success_rate=succeeded / len(finished) if len(finished) else None,
        median_duration_s=float(durations.median()) if len(durations) else None,
        open_by_severity={s: int(open_rows[s].sum()) for s in SEVERITIES},
        targets=int(frame["host"].nunique()),
    )


def _day_of(ts: pd.Series) -> pd.Series:
    return ts.dt.tz_convert(None).dt.normalize()


def _week_of(ts: pd.Series) -> pd.Series:
    """Monday 00:00 UTC of the timestamp's week (naive)."""
    day = _day_of(ts)
    return day - pd.to_timedelta(day.dt.dayofweek, unit="D")


def scans_per_day(frame: pd.DataFrame) -> pd.DataFrame:
    """day, outcome, scans: requests per day stacked by their current status."""
    out = (
        frame.assign(day=_day_of(frame["requested"]))
        .groupby(["day", "status"], observed=True)
        .size()
        .rename("scans")
        .reset_index()
        .rename(columns={"status": "outcome"})
    )
    order = {s: i for i, s in enumerate(OUTCOME_ORDER)}
    return out.sort_values(
        ["day", "outcome"], key=lambda c: c.map(order) if c.name == "outcome" else c, ignore_index=True
    )


def findings_over_time(frame: pd.DataFrame) -> pd.DataFrame:
    """day, severity, findings: findings reported by the scans finished each day."""
    done = frame[frame["has_report"] & frame["finished"].notna()]
    per_day = done.groupby(_day_of(done["finished"]).rename("day"))[list(SEVERITIES)].sum()
    return _long_in_order(per_day, "severity", SEVERITIES)


def step_durations(frame: pd.DataFrame) -> pd.DataFrame:
    """scanner, duration_s, failed: one row per finished scanner step of the scans in `frame`."""
    parts = [
        pd.DataFrame({"scanner": n, "duration_s": frame[f"dur_{n}"], "failed": frame[f"failed_{n}"]}) for n in SCANNERS
    ]
    out = pd.concat(parts, ignore_index=True)
    return out[out["duration_s"].notna()].reset_index(drop=True)


def duration_distribution(frame: pd.DataFrame, bins: int = DURATION_BINS) -> pd.DataFrame:
    """scanner, bin_start_s, bin_end_s, steps: scanner step durations in `bins` shared bins up to the 99th
    percentile (slower steps land in the last bin): small enough to draw whatever the number of steps."""
    cols = ["scanner", "bin_start_s", "bin_end_s", "steps"]
    d = step_durations(frame)
    if d.empty:
        return pd.DataFrame(columns=cols)
    hi = float(d["duration_s"].quantile(0.99)) or float(d["duration_s"].max()) or 1.0
    edges = np.linspace(0.0, hi, bins + 1)
    parts = []
    for scanner in [n for n in SCANNERS if (d["scanner"] == n).any()]:
        counts, _ = np.histogram(d.loc[d["scanner"] == scanner, "duration_s"].clip(upper=hi), bins=edges)
        parts.append(
            pd.DataFrame(
                {"scanner": scanner, "bin_start_s": edges[:-1], "bin_end_s": edges[1:], "steps": counts.astype("int64")}
            )
        )
    return pd.concat(parts, ignore_index=True)


def duration_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """scanner, steps, median_s, p90_s, failed."""
    d = step_durations(frame)
    g = d.groupby("scanner")
    out = pd.DataFrame(
        {
            "steps": g.size(),
            "median_s": g["duration_s"].median(),
            "p90_s": g["duration_s"].quantile(0.9),
            "failed": g["failed"].sum().astype("int64"),
        }
    )
    return out.reindex([n for n in SCANNERS if n in out.index]).reset_index(names="scanner")


def top_targets(frame: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """host, critical, high, open_high_critical, scan: hosts with the most open critical+high findings."""
    latest = latest_reported(frame)
    out = latest.assign(open_high_critical=latest["critical"] + latest["high"])
    out = out[out["open_high_critical"] > 0].sort_values(
        ["open_high_critical", "critical", "host"], ascending=[False, False, True]
    )
    top = out.head(n)[["host", "critical", "high", "open_high_critical", "scan"]].reset_index(drop=True)
    return top.astype({"host": object})  # the facts' categorical hosts, as plain names


def new_vs_fixed_weekly(frame: pd.DataFrame) -> pd.DataFrame:
    """week, change (new|fixed), findings: the scan-to-scan diff summed per week the scans finished."""
    done = frame[frame["finished"].notna()]
    per_week = done.groupby(_week_of(done["finished"]).rename("week"))[list(DIFF_KEYS)].sum()
    return _long_in_order(per_week, "change", DIFF_KEYS)


def _long_in_order(wide: pd.DataFrame, var: str, order: tuple[str, ...]) -> pd.DataFrame:
    """A per-period frame of counts in long form (period, `var`, findings), sorted by period then `order`."""
    period = str(wide.index.name)
    return (
        wide.reset_index()
        .melt(id_vars=period, var_name=var, value_name="findings")
        .sort_values([period, var], key=lambda c: c.map(order.index) if c.name == var else c, ignore_index=True)
    )


LIFECYCLE_STAGES = ("request → confirmation", "confirmation → report")


def lifecycle_weekly(frame: pd.DataFrame) -> pd.DataFrame:
    """week, stage, median_min, scans: median minutes from request to confirmation and from confirmation to the
    report (finished with a report), per week of the request."""
    cols = ["week", "stage", "median_min", "scans"]
    done = frame[frame["has_report"] & frame["confirmed"].notna() & frame["finished"].notna()]
    if done.empty:
        return pd.DataFrame(columns=cols)
    t = pd.DataFrame(
        {
            "week": _week_of(done["requested"]),
            LIFECYCLE_STAGES[0]: (done["confirmed"] - done["requested"]).dt.total_seconds() / 60,
            LIFECYCLE_STAGES[1]: (done["finished"] - done["confirmed"]).dt.total_seconds() / 60,
        }
    )
    g = t.groupby("week")
    med = (
        g[list(LIFECYCLE_STAGES)].median().reset_index().melt(id_vars="week", var_name="stage", value_name="median_min")
    )
    return med.merge(g.size().rename("scans").reset_index(), on="week").sort_values(
        ["week", "stage"], key=lambda c: c.map(LIFECYCLE_STAGES.index) if c.name == "stage" else c, ignore_index=True
    )[cols]


TABLE_PREVIEW = 1000  # newest rows shown in the page; the CSV export has them all


@dataclass(frozen=True)
class HistoryView:
    """Everything the history page shows for one set of filters: small frames, picklable (cached per filter).
    `rows` is the newest TABLE_PREVIEW rows; kpis.scans says how many matched."""

    filters: HistoryFilters
    rows: pd.DataFrame
    kpis: HistoryKpis
    per_day: pd.DataFrame
    severity_over_time: pd.DataFrame
    durations: pd.DataFrame
    duration_stats: pd.DataFrame
    top_targets: pd.DataFrame
    new_vs_fixed: pd.DataFrame
    lifecycle: pd.DataFrame
    computed_at: datetime = field(default_factory=lambda: datetime.now(UTC))


def build_view(filters: HistoryFilters, facts: pd.DataFrame, rows: pd.DataFrame) -> HistoryView:
    """The pure part: every aggregate of the scans matching `filters` in the facts frame."""
    frame = apply_filters(facts, filters)
    return HistoryView(
        filters=filters,
        rows=rows,
        kpis=kpis(frame),
        per_day=scans_per_day(frame),
        severity_over_time=findings_over_time(frame),
        durations=duration_distribution(frame),
        duration_stats=duration_summary(frame),
        top_targets=top_targets(frame),
        new_vs_fixed=new_vs_fixed_weekly(frame),
        lifecycle=lifecycle_weekly(frame),
    )


def history_view(facts: ScanFacts, filters: HistoryFilters, preview: int = TABLE_PREVIEW) -> HistoryView:
    """Aggregates from the (incrementally refreshed) facts and the newest table rows from the database: what the
    page caches per filter set."""
    return build_view(filters, facts.frame(), table_rows(facts.sessions, filters, limit=preview))
