"""The pipeline's order (findings' identity, grouping and diff: tests/test_findings_identity.py)."""

from __future__ import annotations

from lib.core.dag import layers
from lib.core.pipeline import STEPS, blocked_steps, plan, ready_steps, workflow_parameters


def test_scanners_run_in_parallel_then_report_publish_notify() -> None:
    states = {p.spec.name: "pending" if p.enabled else "skipped" for p in plan({"portscan": {}, "tls": {}})}
    assert states["web"] == "skipped"
    assert ready_steps(states) == ["portscan", "tls"]
    states.update(portscan="succeeded", tls="running")
    assert ready_steps(states) == []
    states.update(tls="failed")  # a failed scanner does not block the report
    assert ready_steps(states) == ["report"]
    states.update(report="succeeded")
    assert ready_steps(states) == ["publish"]
    states.update(publish="failed")
    assert ready_steps(states) == [] and blocked_steps(states) == ["notify"]


def test_dag_layers_follow_dependencies() -> None:
    edges = [(d, s.name) for s in STEPS for d in s.depends]
    lay = layers([s.name for s in STEPS], edges)
    assert lay == {"portscan": 0, "web": 0, "tls": 0, "report": 1, "publish": 2, "notify": 3}


def test_workflow_parameters_are_strings_for_every_scanner() -> None:
    p = workflow_parameters("abc", "https://x.example/", "a@b.example", {"web": {"depth": 2}})
    assert p["web-enabled"] == "true" and p["portscan-enabled"] == "false"
    assert p["web-depth"] == "2" and p["portscan-ports"] == "1-1024" and p["tls-port"] == "0"
    assert all(isinstance(v, str) for v in p.values())
