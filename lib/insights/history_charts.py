"""Plotly Express figures for the history page, one per aggregate of lib.insights.history.

Why separate from lib.insights.history: the aggregates are tested as numbers; the figures only map them to marks,
colours
and labels. Every figure is built from an already small frame (per day, per week, binned), so drawing stays cheap
whatever the number of scans.
"""

from __future__ import annotations

import plotly.express as px
import plotly.graph_objects as go

from lib.core.findings import SEVERITIES
from lib.core.pipeline import SCANNER_LABELS, SCANNERS
from lib.engines.report import SEVERITY_COLORS
from lib.insights.history import DIFF_KEYS, LIFECYCLE_STAGES, OUTCOME_ORDER, HistoryView

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
HEIGHT = 320


def _style(fig: go.Figure, title: str) -> go.Figure:
    fig.update_layout(
        title=title,
        height=HEIGHT,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"orientation": "h", "y": -0.2, "title": None},
    )
    return fig


def scans_per_day_figure(view: HistoryView) -> go.Figure:
    fig = px.bar(
        view.per_day,
        x="day",
        y="scans",
        color="outcome",
        color_discrete_map=OUTCOME_COLORS,
        category_orders={"outcome": list(OUTCOME_ORDER)},
        labels={"day": "", "scans": "scans"},
    )
    return _style(fig, "Scans per day by outcome")


def severity_over_time_figure(view: HistoryView) -> go.Figure:
    fig = px.bar(
        view.severity_over_time,
        x="day",
        y="findings",
        color="severity",
        color_discrete_map=SEVERITY_COLORS,
        category_orders={"severity": list(SEVERITIES)},
        labels={"day": "", "findings": "findings reported"},
    )
    return _style(fig, "Findings by severity (scans finished per day)")


def duration_figure(view: HistoryView) -> go.Figure:
    d = view.durations.assign(
        minutes=view.durations["bin_start_s"] / 60,
        width=(view.durations["bin_end_s"] - view.durations["bin_start_s"]) / 60,
    )
    fig = px.bar(
        d,
        x="minutes",
        y="steps",
        color="scanner",
        barmode="overlay",
        opacity=0.6,
        color_discrete_map=SCANNER_COLORS,
        category_orders={"scanner": list(SCANNERS)},
        labels={"minutes": "duration (minutes, bin start)", "steps": "steps"},
        hover_data={"width": False},
    )
    fig.for_each_trace(
        lambda t: t.update(
            name=SCANNER_LABELS.get(t.name, t.name), offset=0, width=d["width"].iloc[0] if len(d) else None
        )
    )
    return _style(fig, "Scanner duration distribution")


def top_targets_figure(view: HistoryView) -> go.Figure:
    t = view.top_targets.melt(
        id_vars=["host", "open_high_critical"],
        value_vars=["critical", "high"],
        var_name="severity",
        value_name="findings",
    )
    fig = px.bar(
        t,
        x="findings",
        y="host",
        color="severity",
        orientation="h",
        color_discrete_map=SEVERITY_COLORS,
        category_orders={"severity": ["critical", "high"], "host": list(view.top_targets["host"])},
        labels={"host": "", "findings": "open findings"},
    )
    return _style(fig, "Top targets by open critical + high findings")


def new_vs_fixed_figure(view: HistoryView) -> go.Figure:
    fig = px.bar(
        view.new_vs_fixed,
        x="week",
        y="findings",
        color="change",
        barmode="group",
        color_discrete_map=CHANGE_COLORS,
        category_orders={"change": list(DIFF_KEYS)},
        labels={"week": "week of", "findings": "findings"},
    )
    return _style(fig, "New vs fixed findings per week")


def lifecycle_figure(view: HistoryView) -> go.Figure:
    fig = px.bar(
        view.lifecycle,
        x="week",
        y="median_min",
        color="stage",
        hover_data=["scans"],
        category_orders={"stage": list(LIFECYCLE_STAGES)},
        color_discrete_sequence=["#90a4ae", "#2b59c3"],
        labels={"week": "week of request", "median_min": "median minutes"},
    )
    return _style(fig, "Time from request to confirmation to report")


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
