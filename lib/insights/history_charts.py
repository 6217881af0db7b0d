"""Plotly figures for the history page, one per aggregate of lib.insights.history_aggregates.

Why separate from lib.insights.history_aggregates: the aggregates are tested as numbers; the figures only map them to
marks, colours and labels. Every figure is built from an already small frame (per day, per week, binned), so drawing
stays cheap whatever the number of scans.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from lib.core.findings import SEVERITIES
from lib.core.pipeline import SCANNER_LABELS, SCANNERS
from lib.engines.report import SEVERITY_COLORS
from lib.insights.category_traces import category_figure
from lib.insights.figure_style import styled
from lib.insights.history_aggregates import LIFECYCLE_STAGES, OUTCOME_ORDER, HistoryView
from lib.insights.history_queries import DIFF_KEYS

OUTCOME_COLORS = {
    "succeeded": "#2ca02c",
    "partial": "#f2a93b",
    "failed": "#d62728",
    "running": "#1f77b4",
    "queued": "#9aa3ad",
    "awaiting_confirmation": "#d0d5dd",
}
CHANGE_COLORS = {"new": "#c62828", "fixed": "#2e7d32"}
SCANNER_COLORS = {"portscan": "#1f77b4", "web": "#9467bd", "tls": "#17becf"}
LIFECYCLE_COLORS = ("#90a4ae", "#2b59c3")  # request → confirmation, confirmation → report
DAY_MS = 86_400_000  # plotly's date axes count in milliseconds
MAX_TICKS = 10
BAR_FILL = 0.8  # share of a day (or week) a bar covers
SMALL_COUNT = 10  # up to this many, count axes tick every unit
SECONDS_UNTIL_S = 120  # durations shorter than this read in seconds, longer ones in minutes


def _days_axis(fig: go.Figure, positions: pd.Series, unit_days: int) -> go.Figure:
    """A date axis counted in whole days, at least one unit wide, with bars one unit (less a gap) wide.

    Why: plotly sizes bars and the autorange from the smallest gap between positions; with one day of data there
    is none, so it falls back to one millisecond and draws a sub-millisecond time axis with an invisible bar.
    """
    unit_ms = unit_days * DAY_MS
    axis: dict[str, object] = {"type": "date", "tickformat": "%b %-d", "dtick": unit_ms}
    days = pd.to_datetime(positions.dropna())
    if len(days):
        lo, hi = days.min(), days.max()
        span_units = (hi - lo) / pd.Timedelta(days=unit_days)
        axis["dtick"] = unit_ms * max(1, math.ceil((span_units + 1) / MAX_TICKS))
        axis["tick0"] = lo.isoformat()
        half = pd.Timedelta(days=unit_days) / 2
        axis["range"] = [(lo - half).isoformat(), (hi + half).isoformat()]
    fig.update_xaxes(**axis)
    bars = [t for t in fig.data if t.type == "bar"]
    if fig.layout.barmode == "group" and bars:
        width = unit_ms * BAR_FILL / len(bars)
        for i, t in enumerate(bars):
            t.update(width=width, offset=-unit_ms * BAR_FILL / 2 + i * width)
    else:
        for t in bars:
            t.update(width=unit_ms * BAR_FILL)
    return fig


def _whole_counts(fig: go.Figure, axis: str = "y") -> go.Figure:
    """Counts are whole numbers: with small totals a tick per unit instead of 0.2, 0.4, ... steps."""
    totals = pd.Series(dtype=float)
    for t in fig.data:
        pos, val = (t.y, t.x) if axis == "x" else (t.x, t.y)
        if pos is not None and val is not None:
            totals = totals.add(pd.Series(val, index=pos, dtype=float).groupby(level=0).sum(), fill_value=0)
    top = float(totals.max()) if len(totals) else 0.0
    update: dict[str, object] = {"rangemode": "tozero", "tickformat": ",d"}
    if top <= SMALL_COUNT:
        update |= {"dtick": 1, "range": [0, max(top, 1) * 1.05]}
    (fig.update_xaxes if axis == "x" else fig.update_yaxes)(**update)
    return fig


def _empty_note(fig: go.Figure, empty: bool, note: str) -> go.Figure:
    """A chart with nothing to draw says why, instead of showing bare axes from -1 to 4."""
    if empty:
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
        fig.update_layout(showlegend=False)
        fig.add_annotation(text=note, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5, font={"size": 14})
    return fig


def _bars(
    frame: pd.DataFrame,
    x: str,
    y: str,
    by: str,
    colors: dict[str, str],
    labels: dict[str, str],
    barmode: str = "relative",
    **options: Any,
) -> go.Figure:
    """Bars per value of `by` in `colors`' order, stacked unless `barmode` says otherwise."""
    return category_figure(frame, x, y, by, labels, colors=colors, layout={"barmode": barmode}, **options)


def scans_per_day_figure(view: HistoryView) -> go.Figure:
    colors = {k: OUTCOME_COLORS[k] for k in OUTCOME_ORDER}
    fig = _bars(view.per_day, "day", "scans", "outcome", colors, {"day": ""})
    return styled(_whole_counts(_days_axis(fig, view.per_day["day"], 1)), "Scans per day by outcome")


def severity_over_time_figure(view: HistoryView) -> go.Figure:
    colors = {k: SEVERITY_COLORS[k] for k in SEVERITIES}
    frame = view.severity_over_time
    fig = _bars(frame, "day", "findings", "severity", colors, {"day": "", "findings": "findings reported"})
    fig = _whole_counts(_days_axis(fig, frame["day"], 1))
    return styled(fig, "Findings by severity (scans finished per day)")


def duration_figure(view: HistoryView) -> go.Figure:
    short = view.durations.empty or view.durations["bin_end_s"].max() < SECONDS_UNTIL_S
    unit, per = ("seconds", 1) if short else ("minutes", 60)
    d = view.durations.assign(**{unit: view.durations["bin_start_s"] / per})
    width = (d["bin_end_s"].iloc[0] - d["bin_start_s"].iloc[0]) / per if len(d) else None
    fig = _bars(
        d,
        unit,
        "steps",
        "scanner",
        {k: SCANNER_COLORS[k] for k in SCANNERS},
        {unit: f"duration ({unit}, bin start)"},
        barmode="overlay",
        names=SCANNER_LABELS,
        marker_opacity=0.6,
        offset=0,
        width=width,
    )
    return styled(_whole_counts(fig), "Scanner duration distribution")


def top_targets_figure(view: HistoryView) -> go.Figure:
    t = view.top_targets.melt(
        id_vars=["host", "open_high_critical"],
        value_vars=["critical", "high"],
        var_name="severity",
        value_name="findings",
    )
    colors = {k: SEVERITY_COLORS[k] for k in ("critical", "high")}
    fig = _bars(t, "findings", "host", "severity", colors, {"host": "", "findings": "open findings"}, orientation="h")
    # the worst host on top: a category axis draws its first category at the bottom
    fig.update_yaxes(categoryorder="array", categoryarray=list(view.top_targets["host"])[::-1])
    fig = _empty_note(_whole_counts(fig, "x"), not t["findings"].any(), "No critical or high findings open")
    return styled(fig, "Top targets by open critical + high findings")


def new_vs_fixed_figure(view: HistoryView) -> go.Figure:
    colors = {k: CHANGE_COLORS[k] for k in DIFF_KEYS}
    fig = _bars(view.new_vs_fixed, "week", "findings", "change", colors, {"week": "week of"}, barmode="group")
    fig = _whole_counts(_days_axis(fig, view.new_vs_fixed["week"], 7))
    fig = _empty_note(
        fig, not view.new_vs_fixed["findings"].any(), "No changes yet: a host's first scan has nothing to compare with"
    )
    return styled(fig, "New vs fixed findings per week")


def lifecycle_figure(view: HistoryView) -> go.Figure:
    fig = _bars(
        view.lifecycle,
        "week",
        "median_min",
        "stage",
        dict(zip(LIFECYCLE_STAGES, LIFECYCLE_COLORS, strict=True)),
        {"week": "week of request", "median_min": "median minutes"},
        hover=["scans"],
    )
    return styled(_days_axis(fig, view.lifecycle["week"], 7), "Time from request to confirmation to report")


FIGURES = {
    "per_day": scans_per_day_figure,
    "severity": severity_over_time_figure,
    "durations": duration_figure,
    "top_targets": top_targets_figure,
    "new_vs_fixed": new_vs_fixed_figure,
    "lifecycle": lifecycle_figure,
}


def history_figures(view: HistoryView) -> dict[str, go.Figure]:
    """Every chart of the history page, keyed as FIGURES."""
    return {name: make(view) for name, make in FIGURES.items()}
