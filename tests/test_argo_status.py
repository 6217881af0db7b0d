"""Real controller-written Workflows become the DAG view the progress page draws, exactly.

The two fixtures in tests/fixtures/argo/ (see PROVENANCE.md there) were written by Argo's own controller tests;
every Workflow used
here first validates against Argo's models (hera, extra="forbid") so none can drift from what a controller writes.
"""

from __future__ import annotations

import base64
import copy
import gzip
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from hera.workflows.models import Workflow

from lib.adapters.kube import KubeSettings, connect
from lib.engines.argo_status import workflow_summary, workflow_view
from lib.insights.dag_figure import dag_figure

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "argo"


def load(name: str) -> dict:
    doc = yaml.safe_load((FIXTURES / name).read_text())
    Workflow.model_validate(doc, extra="forbid")
    return doc


def valid(doc: dict) -> dict:
    Workflow.model_validate(doc, extra="forbid")
    return doc


@pytest.fixture
def retries_wf():
    return load("dag-exhausted-retries-xfail.yaml")


@pytest.fixture
def taskgroup_wf():
    return load("dag-withparam-retries-taskgroup-failed.yaml")


def ids_by_label(view) -> dict[str, str]:
    return {n.label: n.id for n in view.nodes}


def test_nested_dag_with_exhausted_retry(retries_wf):
    v = workflow_view(retries_wf)
    assert len(v.nodes) == 8
    assert Counter((n.kind, n.state) for n in v.nodes) == {
        ("dag", "running"): 1,
        ("retry", "succeeded"): 1,
        ("step", "succeeded"): 1,
        ("dag", "failed"): 1,
        ("retry", "failed"): 1,
        ("step", "failed"): 2,
        ("step", "omitted"): 1,
    }
    assert v.root == "retry-with-dags" and v.phase == "running"
    by = ids_by_label(v)
    nodes = v.by_id()
    # nesting from boundaryID
    assert nodes[by["fail"]].parent == by["sub-dag1"]
    assert nodes[by["fail(1)"]].parent == by["sub-dag1"]
    assert nodes[by["sub-dag1"]].parent == "retry-with-dags"
    assert nodes["retry-with-dags"].parent == ""
    # the retry and its attempts; only the last attempt carries the edge onward
    fail = nodes[by["fail"]]
    assert fail.attempts == 2 and fail.message == "No more retries left"
    assert {nodes[by["fail(0)"]].group, nodes[by["fail(1)"]].group} == {by["fail"]}
    assert nodes[by["fail(0)"]].message == "failed with exit code 1"
    edges = set(v.edges)
    assert (by["fail"], by["fail(0)"]) in edges and (by["fail"], by["fail(1)"]) in edges
    assert (by["fail(1)"], by["success2"]) in edges
    assert not [e for e in v.edges if e[0] == by["fail(0)"]]
    assert (by["success1(0)"], by["sub-dag1"]) in edges and (by["sub-dag1"], by["fail"]) in edges
    assert len(v.edges) == 7
    # omitted because its dependency failed
    s2 = nodes[by["success2"]]
    assert (s2.kind, s2.state, s2.message) == ("step", "omitted", "omitted: depends condition not met")
    assert nodes[by["fail(1)"]].started_at == datetime(2020, 6, 2, 0, 26, 42, tzinfo=UTC)
    assert nodes[by["fail(1)"]].duration_s == 3.0
    assert v.progress == (3, 3)  # no status.progress in this object: counted from its three pods


def test_withparam_taskgroup_of_retries(taskgroup_wf):
    v = workflow_view(taskgroup_wf)
    assert len(v.nodes) == 27
    kinds = Counter(n.kind for n in v.nodes)
    assert kinds == {"dag": 1, "taskgroup": 1, "retry": 11, "step": 14}
    assert Counter(n.state for n in v.nodes if n.kind == "retry") == {"succeeded": 10, "failed": 1}
    assert Counter(n.state for n in v.nodes if n.kind == "step") == {"succeeded": 10, "failed": 3, "omitted": 1}
    assert sum(1 for n in v.nodes if n.state == "failed") == 5
    by = ids_by_label(v)
    nodes = v.by_id()
    group = by["process-tasks"]
    assert nodes[group].kind == "taskgroup" and nodes[group].state == "failed"
    items = [b for a, b in v.edges if a == group]
    assert [nodes[i].label for i in items] == [f"process-tasks({i}:{i})" for i in range(10)]
    assert all(nodes[i].group == group and nodes[i].kind == "retry" for i in items)
    failed_item = nodes[by["process-tasks(3:3)"]]
    assert failed_item.attempts == 3 and failed_item.message == "No more retries left"
    attempts = [b for a, b in v.edges if a == failed_item.id]
    assert [nodes[a].label for a in attempts] == [f"process-tasks(3:3)({k})" for k in range(3)]
    assert all(nodes[a].message == "failed with exit code 1" for a in attempts)
    finish = by["finish"]
    into_finish = [a for a, b in v.edges if b == finish]
    assert len(into_finish) == 10 and by["process-tasks(3:3)(2)"] in into_finish
    assert by["process-tasks(3:3)(0)"] not in into_finish
    assert (by["gen-tasks(0)"], group) in v.edges
    assert nodes[finish].state == "omitted"


SKIP_SUSPEND_EXIT = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Workflow",
    "metadata": {"name": "scan-0123456789ab", "namespace": "scanboard"},
    "spec": {"workflowTemplateRef": {"name": "scanboard-scan"}},
    "status": {
        "phase": "Running",
        "startedAt": "2026-01-05T10:00:00Z",
        "progress": "2/4",
        "message": "waiting for approval",
        "nodes": {
            "scan-0123456789ab": {
                "id": "scan-0123456789ab",
                "name": "scan-0123456789ab",
                "displayName": "scan-0123456789ab",
                "type": "DAG",
                "phase": "Running",
                "startedAt": "2026-01-05T10:00:00Z",
                "children": ["scan-0123456789ab-1", "scan-0123456789ab-2"],
                "outboundNodes": ["scan-0123456789ab-3"],
            },
            "scan-0123456789ab-1": {
                "id": "scan-0123456789ab-1",
                "name": "scan-0123456789ab.portscan",
                "displayName": "portscan",
                "type": "Pod",
                "phase": "Succeeded",
                "boundaryID": "scan-0123456789ab",
                "startedAt": "2026-01-05T10:00:01Z",
                "finishedAt": "2026-01-05T10:01:01Z",
                "children": ["scan-0123456789ab-3"],
            },
            "scan-0123456789ab-2": {
                "id": "scan-0123456789ab-2",
                "name": "scan-0123456789ab.tls",
                "displayName": "tls",
                "type": "Skipped",
                "phase": "Skipped",
                "boundaryID": "scan-0123456789ab",
                "message": "when 'false == true' evaluated false",
                "startedAt": "2026-01-05T10:00:01Z",
                "finishedAt": "2026-01-05T10:00:01Z",
                "children": ["scan-0123456789ab-3"],
            },
            "scan-0123456789ab-3": {
                "id": "scan-0123456789ab-3",
                "name": "scan-0123456789ab.approve",
                "displayName": "approve",
                "type": "Suspend",
                "phase": "Running",
                "boundaryID": "scan-0123456789ab",
                "startedAt": "2026-01-05T10:01:02Z",
            },
            "scan-0123456789ab-4": {
                "id": "scan-0123456789ab-4",
                "name": "scan-0123456789ab.onExit",
                "displayName": "scan-0123456789ab.onExit",
                "type": "Pod",
                "phase": "Pending",
                "startedAt": "2026-01-05T10:01:03Z",
            },
        },
    },
}


def test_skipped_suspend_exit_handler_and_progress():
    v = workflow_view(valid(copy.deepcopy(SKIP_SUSPEND_EXIT)))
    nodes = v.by_id()
    tls = nodes["scan-0123456789ab-2"]
    assert (tls.label, tls.kind, tls.state) == ("tls", "step", "skipped")
    assert "evaluated false" in tls.message
    assert nodes["scan-0123456789ab-3"].kind == "suspend" and nodes["scan-0123456789ab-3"].state == "running"
    exit_node = nodes["scan-0123456789ab-4"]
    assert exit_node.kind == "onexit" and exit_node.state == "pending"
    # the exit handler is drawn after the workflow's outbound node
    assert ("scan-0123456789ab-3", "scan-0123456789ab-4") in v.edges
    assert v.progress == (2, 4)
    assert (v.phase, v.message) == ("running", "waiting for approval")
    assert [n.id for n in v.nodes][-1] == "scan-0123456789ab-4"


def compressed(doc: dict) -> dict:
    """What the controller writes when the node map is large: gzip + base64 of the JSON nodes, nodes emptied."""
    out = copy.deepcopy(doc)
    nodes = out["status"].pop("nodes")
    out["status"]["compressedNodes"] = base64.b64encode(gzip.compress(json.dumps(nodes).encode())).decode()
    return valid(out)


def test_compressed_nodes_give_the_same_view(taskgroup_wf, retries_wf):
    for wf in (taskgroup_wf, retries_wf):
        plain, packed = workflow_view(wf), workflow_view(compressed(wf))
        assert packed.nodes == plain.nodes and packed.edges == plain.edges and packed.notes == []


def test_undecodable_compressed_nodes_leave_a_note(retries_wf):
    wf = copy.deepcopy(retries_wf)
    del wf["status"]["nodes"]
    wf["status"]["compressedNodes"] = "not-gzip"
    v = workflow_view(valid(wf))
    assert [n.id for n in v.nodes] == ["retry-with-dags"] and "could not be decoded" in v.notes[0]


def test_offloaded_node_status_gives_a_clear_note_and_a_figure(taskgroup_wf):
    wf = copy.deepcopy(taskgroup_wf)
    wf["status"]["nodes"] = {}
    wf["status"]["offloadNodeStatusVersion"] = "fnv:1234567890"
    wf["status"]["phase"] = "Failed"
    wf["status"]["finishedAt"] = "2020-08-14T03:49:42Z"
    v = workflow_view(valid(wf))
    assert len(v.nodes) == 1 and v.nodes[0].label == "reproduce-bug-9tpfr" and v.nodes[0].state == "failed"
    assert v.phase == "failed" and v.edges == []
    assert "offloaded" in v.notes[0] and "fnv:1234567890" in v.notes[0]
    assert len(dag_figure(v).data) >= 1
    summary = workflow_summary(wf)
    assert summary.phase == "Failed" and summary.finished and set(summary.tasks.values()) == {None}


def test_workflow_not_started_yet():
    wf = valid(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Workflow",
            "metadata": {"name": "scan-0123456789ab"},
            "spec": {"workflowTemplateRef": {"name": "x"}},
        }
    )
    v = workflow_view(wf)
    assert v.phase == "pending" and v.progress == (0, 0) and "not started" in v.notes[0]


def finished_scan() -> dict:
    """A finished scan Workflow in the shape the controller writes for scanboard-scan: portscan retried once,
    web failed, tls skipped, report/publish succeeded, notify from the exit handler."""
    wf_name = "scan-00aa11bb22cc"

    def node(i, display, ntype, phase, start, end, boundary=wf_name, children=(), message=""):
        n = {
            "id": f"{wf_name}-{i}",
            "name": f"{wf_name}.{display}",
            "displayName": display,
            "type": ntype,
            "phase": phase,
            "startedAt": start,
            "finishedAt": end,
            "boundaryID": boundary,
        }
        if children:
            n["children"] = [f"{wf_name}-{c}" for c in children]
        if message:
            n["message"] = message
        return n

    t = "2026-02-01T09:0{}:00Z".format
    nodes = [
        {
            "id": wf_name,
            "name": wf_name,
            "displayName": wf_name,
            "type": "DAG",
            "phase": "Failed",
            "startedAt": t(0),
            "finishedAt": t(8),
            "children": [f"{wf_name}-1", f"{wf_name}-4", f"{wf_name}-5"],
            "outboundNodes": [f"{wf_name}-8"],
        },
        node(1, "portscan", "Retry", "Succeeded", t(0), t(2), children=(2, 3)),
        node(2, "portscan(0)", "Pod", "Failed", t(0), t(1), message="pod deleted"),
        node(3, "portscan(1)", "Pod", "Succeeded", t(1), t(2), children=(6,)),
        node(4, "web", "Pod", "Failed", t(0), t(3), children=(6,), message="failed with exit code 2"),
        node(5, "tls", "Skipped", "Skipped", t(0), t(0), children=(6,), message="when 'false == true' evaluated false"),
        node(6, "report", "Pod", "Succeeded", t(3), t(4), children=(7,)),
        node(7, "publish", "Pod", "Succeeded", t(4), t(5), children=(8,)),
        node(8, "publish-done", "Pod", "Succeeded", t(5), t(6)),
        {
            "id": f"{wf_name}-9",
            "name": f"{wf_name}.onExit",
            "displayName": f"{wf_name}.onExit",
            "type": "Steps",
            "phase": "Succeeded",
            "startedAt": t(6),
            "finishedAt": t(8),
            "children": [f"{wf_name}-10"],
        },
        node(10, "notify", "Pod", "Succeeded", t(6), t(7), boundary=f"{wf_name}-9"),
    ]
    return valid(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Workflow",
            "metadata": {"name": wf_name, "namespace": "scanboard"},
            "spec": {"workflowTemplateRef": {"name": "scanboard-scan"}},
            "status": {
                "phase": "Failed",
                "startedAt": t(0),
                "finishedAt": t(8),
                "progress": "6/7",
                "message": "child 'scan-00aa11bb22cc-4' failed",
                "nodes": {n["id"]: n for n in nodes},
            },
        }
    )


def test_summary_of_a_finished_scan():
    s = workflow_summary(finished_scan())
    assert s.phase == "Failed" and s.state == "failed" and s.finished
    assert s.started_at == datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
    assert s.finished_at == datetime(2026, 2, 1, 9, 8, tzinfo=UTC) and s.duration_s == 480.0
    assert s.message == "child 'scan-00aa11bb22cc-4' failed"
    assert s.tasks == {
        "portscan": "Succeeded",
        "web": "Failed",
        "tls": "Skipped",
        "report": "Succeeded",
        "publish": "Succeeded",
        "notify": "Succeeded",
    }


def test_summary_of_the_fixtures_by_display_name(taskgroup_wf, retries_wf):
    s = workflow_summary(taskgroup_wf, tasks=("gen-tasks", "process-tasks", "finish", "portscan"))
    assert s.tasks == {"gen-tasks": "Succeeded", "process-tasks": "Failed", "finish": "Omitted", "portscan": None}
    assert s.phase == "Running" and not s.finished and s.finished_at is None
    s = workflow_summary(retries_wf, tasks=("success1", "sub-dag1", "success2", "fail"))
    assert s.tasks == {"success1": "Succeeded", "sub-dag1": "Failed", "success2": "Omitted", "fail": None}


def test_workflow_read_from_the_api_server_draws_the_same(kube_api, kubeconfig, taskgroup_wf):
    stored = copy.deepcopy(taskgroup_wf)
    stored["metadata"]["namespace"] = "scanboard"
    kube_api.put("workflows", stored)
    with connect(KubeSettings(kubeconfig=str(kubeconfig))) as kube:
        wf = kube.get_workflow("reproduce-bug-9tpfr")
    assert kube_api.request_count("/apis/argoproj.io/v1alpha1/namespaces/scanboard/workflows/") == 1
    valid(wf)
    from_api, from_file = workflow_view(wf), workflow_view(taskgroup_wf)
    assert from_api.nodes == from_file.nodes and from_api.edges == from_file.edges
