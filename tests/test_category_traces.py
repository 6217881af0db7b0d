"""Our per-category figures against plotly express itself, the reference they replace for speed: the same traces
in the same order, with the same names, colours, data and hover fields."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from lib.insights.category_traces import category_figure

# px takes unmapped colours from the process default template, which Streamlit replaces once a page has run;
# plotly's own template holds the default sequence ours uses
PLOTLY = "plotly"
FRAME = pd.DataFrame(
    {
        "day": pd.to_datetime(["2026-12-01", "2026-12-01", "2026-12-02", "2026-12-02", "2026-12-03"]),
        "outcome": ["failed", "succeeded", "partial", "succeeded", "queued"],
        "scans": [1, 4, 2, 3, 5],
        "who": ["a", "b", "c", "d", "e"],
    }
)


def _traces(fig: go.Figure) -> list[tuple]:
    return [(t.name, t.legendgroup, (t.marker.color or "").lower(), list(t.x), list(t.y), t.type) for t in fig.data]


def _hover_fields(fig: go.Figure) -> list[list[str]]:
    return [t.hovertemplate.replace("<extra></extra>", "").split("<br>") for t in fig.data]


def test_bars_match_plotly_express_with_an_order_and_a_colour_map():
    colors = {"succeeded": "#2ca02c", "partial": "#f2a93b", "failed": "#d62728"}  # "queued" has none
    labels = {"day": "day of request", "scans": "scans"}
    ours = category_figure(FRAME, "day", "scans", "outcome", labels, colors=colors, layout={"barmode": "relative"})
    theirs = px.bar(
        FRAME,
        x="day",
        y="scans",
        color="outcome",
        color_discrete_map=colors,
        category_orders={"outcome": list(colors)},
        labels=labels,
        template=PLOTLY,
    )
    assert _traces(ours) == _traces(theirs)
    assert [t.name for t in ours.data] == [t.name for t in theirs.data] == ["succeeded", "partial", "failed", "queued"]
    assert _hover_fields(ours) == _hover_fields(theirs)
    assert ours.layout.barmode == theirs.layout.barmode == "relative"
    assert ours.layout.xaxis.title.text == theirs.layout.xaxis.title.text == "day of request"


def test_without_colours_the_default_sequence_in_first_appearance_order_like_px():
    ours = category_figure(FRAME, "day", "scans", "outcome", {})
    theirs = px.bar(FRAME, x="day", y="scans", color="outcome", template=PLOTLY)
    assert _traces(ours) == _traces(theirs)


def test_hover_columns_join_the_hover_text_as_custom_data_like_px():
    ours = category_figure(FRAME, "day", "scans", "outcome", {}, hover=["who"])
    theirs = px.bar(FRAME, x="day", y="scans", color="outcome", hover_data=["who"], template=PLOTLY)
    assert _hover_fields(ours) == _hover_fields(theirs)
    assert [list(t.customdata[:, 0]) for t in ours.data] == [list(t.customdata[:, 0]) for t in theirs.data]


def test_lines_colour_the_line_like_px_line():
    ours = category_figure(
        FRAME, "day", "scans", "outcome", {}, trace=go.Scatter, mode="lines", line_shape="hv", color_attr="line"
    )
    theirs = px.line(FRAME, x="day", y="scans", color="outcome", line_shape="hv", template=PLOTLY)
    assert [(t.name, t.line.color.lower(), t.line.shape, t.mode) for t in ours.data] == [
        (t.name, t.line.color.lower(), t.line.shape, t.mode) for t in theirs.data
    ]


def test_an_empty_frame_draws_no_trace():
    assert category_figure(FRAME.iloc[:0], "day", "scans", "outcome", {}).data == ()
