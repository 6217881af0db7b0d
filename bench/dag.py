"""Benchmark: Argo Workflow status of 50, 500 and 5,000 nodes -> DagView -> plotly figure.

Why: the progress page rebuilds the view and the figure on every refresh; it must stay fast and the figure
usable when a scan fans out into thousands of retried items. Goal: <= 200 ms at 500 nodes, <= 1 s at 5,000
with the figure condensed (retries folded, fan-outs collapsed) to a few hundred points.

Peer: json.loads of the same Workflow (what the Kubernetes client does per refresh anyway), measured in the
same run, so the ratio says how the work compares with merely reading the object on this machine.

Run: .venv/bin/python bench/dag.py     (last line: goal_met=<true|false> t50=.. t500=.. t5000=.. ...)
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.timing import goal_line, median_time, timed
from lib.engines.argo_status import workflow_view
from lib.insights.dag_figure import dag_figure, point_count

GOAL_500_S = 0.200
GOAL_5000_S = 1.0
GOAL_POINTS = 2000  # what a browser redraws smoothly on every refresh
REPEATS = 5


_T0 = 1_700_000_000  # the synthetic Workflow's start (fixed: the figure is the same on every run)


def _ts(s: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(_T0 + s))


class _WorkflowNodes:
    """The Workflow's status.nodes as the Argo controller writes them: ids in creation order, children links."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.nodes: dict[str, dict] = {}
        self._seq = iter(range(10**9))

    def add(
        self,
        display: str,
        ntype: str,
        phase: str,
        start: int = 0,
        end: int | None = 5,
        message: str = "",
        node_id: str | None = None,
    ) -> str:
        """One node (finished unless end is None); returns its id."""
        name = self.name
        nid = node_id or f"{name}-{1000000 + next(self._seq)}"
        node = {
            "id": nid,
            "name": f"{name}.{display}" if nid != name else name,
            "displayName": display,
            "type": ntype,
            "phase": phase,
            "startedAt": _ts(start),
            "templateName": display.split("(")[0],
            "templateScope": f"local/{name}",
        }
        if end is not None:
            node["finishedAt"] = _ts(end)
        if nid != name:
            node["boundaryID"] = name
        if message:
            node["message"] = message
        self.nodes[nid] = node
        return nid

    def link(self, a: str, *bs: str) -> None:
        self.nodes[a].setdefault("children", []).extend(bs)

    def retry(self, display: str, outcomes: list[str], start: int) -> tuple[str, str]:
        """A Retry node with one attempt per outcome; returns (retry id, last attempt id)."""
        phase = outcomes[-1]
        rid = self.add(
            display,
            "Retry",
            phase,
            start=start,
            end=start + 10 * len(outcomes),
            message="No more retries left" if phase == "Failed" else "",
        )
        last = rid
        for i, outcome in enumerate(outcomes):
            last = self.add(
                f"{display}({i})",
                "Pod",
                outcome,
                start=start + 10 * i,
                end=start + 10 * i + 8,
                message="failed with exit code 1" if outcome == "Failed" else "",
            )
            self.link(rid, last)
        return rid, last


def _add_scanners(wf: _WorkflowNodes, root: str) -> tuple[list[str], str]:
    """The scanner steps under the root: two retried, one skipped, the crawl target generator and the probe
    TaskGroup; returns the nodes the report waits for and the (still empty) crawl TaskGroup."""
    ends: list[str] = []
    for scanner, outcomes in (("portscan", ["Failed", "Succeeded"]), ("web", ["Succeeded"])):
        rid, last = wf.retry(scanner, outcomes, 1)
        wf.link(root, rid)
        ends.append(last)
    tls = wf.add("tls", "Skipped", "Skipped", start=1, end=1, message="when 'false == true' evaluated false")
    wf.link(root, tls)
    ends.append(tls)
    gen, gen_last = wf.retry("gen-targets", ["Succeeded"], 1)
    wf.link(root, gen)
    crawl = wf.add("crawl", "TaskGroup", "Failed", start=20, end=3900)
    wf.link(gen_last, crawl)
    probe = wf.add("probe", "TaskGroup", "Succeeded", start=1, end=60)
    wf.link(root, probe)
    for i in range(8):
        p = wf.add(f"probe({i}:{i})", "Pod", "Succeeded", start=1, end=50)
        wf.link(probe, p)
        ends.append(p)
    return ends, crawl


def _add_crawl_items(wf: _WorkflowNodes, crawl: str, items: int) -> list[str]:
    """The withParam fan-out: every 7th item retried to success, every 97th failing all 3 attempts, so the
    figure has retries to fold; returns each item's last attempt."""
    ends = []
    for i in range(items):
        outcomes = ["Failed"] * 3 if i % 97 == 5 else ["Failed", "Failed", "Succeeded"] if i % 7 == 3 else ["Succeeded"]
        rid, last = wf.retry(f"crawl({i}:{i})", outcomes, 30 + i % 300)
        wf.link(crawl, rid)
        ends.append(last)
    return ends


def _add_tail(wf: _WorkflowNodes, root: str, report_last: str) -> None:
    """publish and notify (still running) after the report, and the pending exit handler."""
    name = wf.name
    publish = wf.add("publish", "Pod", "Succeeded", start=4020, end=4030)
    wf.link(report_last, publish)
    notify = wf.add("notify", "Pod", "Running", start=4031, end=None)
    wf.link(publish, notify)
    wf.nodes[root]["outboundNodes"] = [notify]
    wf.add(f"{name}.onExit", "Pod", "Pending", start=4040, end=None, node_id=f"{name}-onexit")
    wf.nodes[f"{name}-onexit"]["name"] = f"{name}.onExit"


def _workflow_object(name: str, nodes: dict[str, dict]) -> dict:
    """The Workflow resource around the nodes, with the progress the controller would report."""
    pods = [n for n in nodes.values() if n["type"] == "Pod"]
    done = sum(1 for n in pods if n["phase"] in ("Succeeded", "Failed", "Error"))
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": name, "namespace": "scanboard"},
        "spec": {"workflowTemplateRef": {"name": "scanboard-scan"}},
        "status": {"phase": "Running", "startedAt": _ts(0), "progress": f"{done}/{len(pods)}", "nodes": nodes},
    }


def synthetic_workflow(target_nodes: int, name: str = "scan-0123456789ab") -> dict:
    """A controller-shaped Workflow: scanner Retry nodes, a skipped scanner, a withParam TaskGroup of retried
    items (some retried, a few failing), a small TaskGroup, report/publish/notify and an exit handler.
    Sized to about `target_nodes` nodes."""
    wf = _WorkflowNodes(name)
    root = wf.add(name, "DAG", "Running", start=0, end=None, node_id=name)
    report, report_last = wf.retry("report", ["Succeeded"], 4000)
    ends, crawl = _add_scanners(wf, root)
    fixed = len(wf.nodes) + 1 + 2  # + publish, notify, onExit (report already added)
    items = max(1, round((target_nodes - fixed) / 2.29))  # 2.29 nodes per item on average (retries)
    ends += _add_crawl_items(wf, crawl, items)
    for e in ends:
        wf.link(e, report)
    _add_tail(wf, root, report_last)
    return _workflow_object(name, wf.nodes)


def main() -> int:
    warm = synthetic_workflow(50)
    _, first_s = timed(lambda: dag_figure(workflow_view(warm)))
    print(f"first call (imports, plotly validators): {first_s:.3f} s")
    results: dict[int, dict] = {}
    for size in (50, 500, 5000):
        wf = synthetic_workflow(size)
        raw = json.dumps(wf)
        view = workflow_view(wf)
        fig = dag_figure(view)
        t_view = median_time(lambda: workflow_view(wf), REPEATS)
        t_total = median_time(lambda: dag_figure(workflow_view(wf)), REPEATS)
        t_peer = median_time(lambda: json.loads(raw), REPEATS)
        drawn = sum(len(tr.x) for tr in fig.data if tr.mode and "markers" in tr.mode and tr.x != (None,))
        results[size] = {"t": t_total, "points": point_count(fig), "drawn": drawn}
        print(
            f"{len(view.nodes):5d} nodes: view {t_view * 1000:7.1f} ms, view+figure {t_total * 1000:7.1f} ms, "
            f"json.loads peer {t_peer * 1000:6.1f} ms (ratio {t_total / t_peer:5.1f}x); "
            f"figure: {drawn} nodes drawn, {point_count(fig)} trace points, {len(fig.data)} traces"
        )
    met = (
        results[500]["t"] <= GOAL_500_S and results[5000]["t"] <= GOAL_5000_S and results[5000]["points"] <= GOAL_POINTS
    )
    print(f"goals: t500 <= {GOAL_500_S * 1000:.0f} ms, t5000 <= {GOAL_5000_S:.1f} s, points5000 <= {GOAL_POINTS}")
    print(
        goal_line(
            met,
            f"t50={results[50]['t']:.4f} t500={results[500]['t']:.4f} t5000={results[5000]['t']:.4f} "
            f"points5000={results[5000]['points']} nodes_drawn5000={results[5000]['drawn']}",
        )
    )
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
