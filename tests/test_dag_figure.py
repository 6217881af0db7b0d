"""The progress figure shows every node in its state's colour with the details on hover, and stays readable
when a workflow fans out into thousands of retried items."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from lib.core.dag import DagNode, DagView, layers
from lib.engines.argo_status import workflow_view
from lib.insights.dag_figure import STATE_COLORS, aggregate_state, condense, dag_figure, hover_text, point_count

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "argo"


def fixture_view(name: str) -> DagView:
    return workflow_view(yaml.safe_load((FIXTURES / name).read_text()))


def node_traces(fig):
    return [t for t in fig.data if t.mode and "markers" in t.mode and t.x != (None,)]


def drawn(fig) -> dict[str, tuple[str, str]]:
    """node id -> (state trace name, hover text)"""
    out = {}
    for t in node_traces(fig):
        for nid, hover in zip(t.customdata, t.hovertext, strict=True):
            assert nid not in out, "a node is drawn twice"
            out[nid] = (t.name, hover)
    return out


def test_every_node_drawn_once_in_its_state_colour_with_a_legend():
    view = fixture_view("dag-exhausted-retries-xfail.yaml")
    fig = dag_figure(view)
    shown = drawn(fig)
    assert set(shown) == {n.id for n in view.nodes}
    for n in view.nodes:
        assert shown[n.id][0] == n.state
    for t in node_traces(fig):
        assert t.marker.color == STATE_COLORS[t.name]
    legend = [t.name for t in fig.data if t.showlegend is not False and t.name != "edges"]
    assert legend == ["running", "succeeded", "failed", "omitted"]
    edges = next(t for t in fig.data if t.name == "edges")
    assert list(edges.x).count(None) == len(view.edges) == 7


def test_hover_has_phase_times_duration_and_message():
    view = fixture_view("dag-exhausted-retries-xfail.yaml")
    by_label = {n.label: n.id for n in view.nodes}
    shown = drawn(dag_figure(view))
    hover = shown[by_label["fail(1)"]][1]
    assert "<b>fail(1)</b>" in hover and "step · failed" in hover
    assert "started: 2020-06-02 00:26:42 UTC" in hover and "finished: 2020-06-02 00:26:45 UTC" in hover
    assert "duration: 3s" in hover and "failed with exit code 1" in hover
    retry = shown[by_label["fail"]][1]
    assert "attempts: 2" in retry and "No more retries left" in retry
    assert "duration: 10s" in retry


def test_hover_escapes_text_from_the_cluster():
    n = DagNode(id="a", label="<img src=x>", state="failed", message="exit <script>")
    text = hover_text(n)
    assert "<img" not in text and "&lt;img src=x&gt;" in text and "&lt;script&gt;" in text


def test_running_node_duration_counts_so_far():
    start = datetime.now(UTC) - timedelta(seconds=125)
    text = hover_text(DagNode(id="a", label="web", state="running", started_at=start))
    assert "duration: 2m 0" in text and "(so far)" in text and "finished: —" in text


def test_retry_attempts_fold_into_the_retry_node():
    view = fixture_view("dag-exhausted-retries-xfail.yaml")
    by_label = {n.label: n.id for n in view.nodes}
    small = condense(view, group_retries=True)
    labels = [n.label for n in small.nodes]
    assert labels == ["retry-with-dags", "success1", "sub-dag1", "fail", "success2"]
    fail = small.by_id()[by_label["fail"]]
    assert fail.counts == {"failed": 2} and fail.attempts == 2
    # the last attempt's edge onward now leaves the Retry node
    assert (by_label["fail"], by_label["success2"]) in small.edges
    assert (by_label["success1"], by_label["sub-dag1"]) in small.edges
    assert len(small.edges) == 4


def test_taskgroup_over_the_limit_collapses_with_counts():
    view = fixture_view("dag-withparam-retries-taskgroup-failed.yaml")
    by_label = {n.label: n.id for n in view.nodes}
    small = condense(view, group_retries=True, max_fanout=5)
    assert [n.label for n in small.nodes] == [
        "reproduce-bug-9tpfr",
        "gen-tasks",
        "process-tasks",
        "process-tasks ×10",
        "finish",
    ]
    c = small.nodes[3]
    assert c.kind == "collapsed" and c.state == "failed" and c.counts == {"succeeded": 9, "failed": 1}
    assert c.message == "10 items collapsed: 9 succeeded, 1 failed"
    assert (by_label["process-tasks"], c.id) in small.edges and (c.id, by_label["finish"]) in small.edges
    # under the limit nothing collapses
    assert not [n for n in condense(view, max_fanout=10).nodes if n.kind == "collapsed"]


def big_view(items: int) -> DagView:
    """A fan-out of `items` retried members, some nested DAG attempts, joining into a report step."""
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    nodes = [DagNode("wf", "wf", "running", "dag", t0), DagNode("tg", "crawl", "running", "taskgroup", t0, parent="wf")]
    edges = [("wf", "tg")]
    for i in range(items):
        state = "failed" if i % 50 == 0 else "running" if i % 10 == 1 else "succeeded"
        rid = f"r{i}"
        nodes.append(DagNode(rid, f"crawl({i})", state, "retry", t0, parent="wf", group="tg", attempts=2))
        edges.append(("tg", rid))
        for a in range(2):
            aid = f"r{i}-{a}"
            nodes.append(DagNode(aid, f"crawl({i})({a})", state if a else "failed", "dag", t0, parent="wf", group=rid))
            inner = f"r{i}-{a}-inner"
            nodes.append(DagNode(inner, "fetch", state if a else "failed", "step", t0, parent=aid))
            edges += [(rid, aid), (aid, inner)]
        edges.append((f"r{i}-1-inner", "report"))
    nodes.append(DagNode("report", "report", "pending", "step", parent="wf"))
    return DagView(nodes, edges, phase="running", root="wf")


def test_thousands_of_nodes_become_a_handful_of_points():
    view = big_view(800)
    assert len(view.nodes) == 800 * 5 + 3
    fig = dag_figure(view)  # defaults: retries folded above DETAIL_LIMIT, fan-outs over MAX_FANOUT collapsed
    shown = drawn(fig)
    assert set(shown) == {"wf", "tg", "tg::collapsed", "report"}
    name, hover = shown["tg::collapsed"]
    assert name == "running"
    assert "crawl ×800" in hover and "members: 80 running, 704 succeeded, 16 failed" in hover
    assert hover.count("704 succeeded") == 1
    assert point_count(fig) < 40


def test_nested_nodes_inside_folded_attempts_are_hidden_with_them():
    view = big_view(3)
    small = condense(view, group_retries=True, max_fanout=100)
    assert {n.id for n in small.nodes} == {"wf", "tg", "r0", "r1", "r2", "report"}
    assert sorted(small.edges) == sorted(
        [("wf", "tg"), ("tg", "r0"), ("tg", "r1"), ("tg", "r2"), ("r0", "report"), ("r1", "report"), ("r2", "report")]
    )
    assert small.by_id()["r1"].counts == {"failed": 1, "running": 1}


@pytest.mark.parametrize(
    "counts, state",
    [
        ({"succeeded": 3}, "succeeded"),
        ({"succeeded": 3, "failed": 1}, "failed"),
        ({"succeeded": 3, "pending": 2}, "running"),
        ({"pending": 2}, "pending"),
        ({"failed": 1, "running": 1}, "running"),
        ({"skipped": 2, "omitted": 1}, "omitted"),
        ({"skipped": 2}, "skipped"),
        ({"error": 1, "failed": 1}, "error"),
    ],
)
def test_aggregate_state(counts, state):
    assert aggregate_state(Counter(counts)) == state


def test_empty_view_draws_its_note():
    fig = dag_figure(DagView(nodes=[], edges=[], notes=["The workflow has not started any step yet."]))
    assert fig.layout.annotations[0].text == "The workflow has not started any step yet."


def test_layers_of_a_long_chain_need_no_recursion():
    ids = [f"n{i}" for i in range(5000)]
    layer = layers(ids, list(itertools.pairwise(ids)))
    assert layer["n0"] == 0 and layer["n4999"] == 4999
    # cycles are tolerated as before: a parent still being visited counts as depth 0
    assert layers(["a", "b"], [("a", "b"), ("b", "a")]) == {"a": 2, "b": 1}


def test_condensing_keeps_what_the_page_shows_beside_the_figure():
    """The page draws the condensed view: its phase, progress and a read error (the API is down) must survive."""
    view = replace(big_view(60), error="The Kubernetes API did not answer", progress=(3, 8), notes=["offloaded"])
    small = condense(view, max_fanout=5)
    assert len(small.nodes) < len(view.nodes)
    assert (small.error, small.progress, small.phase, small.notes) == (view.error, (3, 8), "running", ["offloaded"])
