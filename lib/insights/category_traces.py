"""Figures with one plotly trace per category of a column, drawn as plotly express would draw them.

Why not plotly express itself: each px call costs ~70-80 ms of set-up (template validation, a subplot grid) before
the first mark, against ~5 ms for the same go traces built here. The history page draws six figures per filter set
and the cluster page three per refresh, so px alone made both miss their goals (bench/history.py, bench/cluster.py).
The traces keep px's conventions: its trace order, names, legend groups, default colours and hover text.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

PALETTE: tuple[str, ...] = tuple(qualitative.Plotly)  # plotly express's default colour sequence
SYMBOLS = ("circle", "diamond", "square", "x", "cross")  # ... and its default marker symbols


def categories(values: pd.Series, first: Iterable[Hashable] = ()) -> list[Any]:
    """The distinct values in trace order: those of `first` that occur (in its order), then the others as they
    first appear (px's category_orders)."""
    seen = list(values.unique())
    present = set(seen)
    head = [v for v in first if v in present]
    chosen = set(head)
    return head + [v for v in seen if v not in chosen]


def palette_for(keys: Sequence[Hashable], colors: Mapping[Hashable, str] | None = None) -> dict[Hashable, str]:
    """A colour per key: its own from `colors`, else the default sequence by position (wrapping around)."""
    given = colors or {}
    return {k: given.get(k, PALETTE[i % len(PALETTE)]) for i, k in enumerate(keys)}


def hover_template(fields: Sequence[tuple[str, str]], head: str = "") -> str:
    """'label=value' lines (value a plotly placeholder such as %{x}), after an optional bold first line."""
    lines = [f"<b>{head}</b><br>"] if head else []
    return "<br>".join(lines + [f"{label}={value}" for label, value in fields]) + "<extra></extra>"


def customdata_fields(columns: Sequence[str], titles: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """Hover fields for the columns passed as a trace's customdata, in that order (titled, else by name)."""
    return [((titles or {}).get(c, c), f"%{{customdata[{i}]}}") for i, c in enumerate(columns)]


def category_figure(
    frame: pd.DataFrame,
    x: str,
    y: str,
    by: str,
    labels: Mapping[str, str],
    **options: Any,
) -> go.Figure:
    """One trace (go.Bar unless `trace=`) per value of `by`, named by `names`, coloured by `colors` (else the
    default sequence) on `color_attr` ("marker" or "line"), in `order` first; `hover` columns join the hover text
    as custom data; `layout` updates the figure; every other option is passed to each trace."""
    trace = options.pop("trace", go.Bar)
    order: Iterable[Hashable] = options.pop("order", options.get("colors") or ())
    colors: Mapping[Hashable, str] | None = options.pop("colors", None)
    names: Mapping[Hashable, str] = options.pop("names", {})
    hover: list[str] = options.pop("hover", [])
    color_attr: str = options.pop("color_attr", "marker")
    title = {c: labels.get(c) or c for c in (x, y, *hover)}
    fig = go.Figure(
        layout={"xaxis_title_text": labels.get(x, x), "yaxis_title_text": labels.get(y, y), **options.pop("layout", {})}
    )
    keys = categories(frame[by], order) if len(frame) else []
    for key, color in palette_for(keys, colors).items():
        rows = frame[frame[by] == key]
        fields = [(by, str(key)), (title[x], "%{x}"), (title[y], "%{y}"), *customdata_fields(hover, title)]
        fig.add_trace(
            trace(
                x=rows[x],
                y=rows[y],
                name=names.get(key, key),
                legendgroup=str(key),
                customdata=rows[hover].to_numpy() if hover else None,
                hovertemplate=hover_template(fields),
                **{f"{color_attr}_color": color},
                **options,
            )
        )
    return fig
