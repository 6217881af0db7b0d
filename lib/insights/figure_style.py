"""The one look every insights figure shares (history and cluster pages): title, height, margins, legend below."""

from __future__ import annotations

import plotly.graph_objects as go

HEIGHT = 320


def styled(fig: go.Figure, title: str) -> go.Figure:
    """`fig` with the shared layout and `title`; returned for chaining."""
    fig.update_layout(
        title=title,
        height=HEIGHT,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"orientation": "h", "y": -0.2, "title": None},
    )
    return fig
