"""The pipeline's order and the finding schema's fingerprints, de-duplication and diff."""

from __future__ import annotations

from dataclasses import replace

from lib.core.dag import layers
from lib.core.findings import Asset, Finding, canonical_url, deduplicate, diff
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


def header(name: str, url: str = "http://Example.com:80/login", tool: str = "web", cwe: str = "CWE-693") -> Finding:
    return Finding(
        tool,
        f"missing-{name}",
        f"{name} missing",
        "medium",
        Asset(host="example.com", port=80, url=url, param=name),
        cwe=(cwe,),
        evidence="changes every run: 12:00:01",
    )


def test_fingerprints_ignore_run_to_run_text_and_canonicalise_urls() -> None:
    a = header("csp")
    b = replace(a, evidence="other text", remediation="x", first_seen="t1")
    c = header("csp", url="http://example.com/login")
    assert a.rule_fp == b.rule_fp == c.rule_fp and a.issue_fp == c.issue_fp
    assert canonical_url("example.com") == "http://example.com/"
    assert header("csp").issue_fp != header("x-content-type-options").issue_fp  # same CWE, other header


def test_same_issue_from_two_tools_is_one_row_crediting_both() -> None:
    ours, zap = header("csp"), replace(header("csp", tool="zap"), severity="high", rule_id="10038")
    rows = deduplicate([ours, zap, header("xcto")])
    assert len(rows) == 2
    csp = next(r for r in rows if r.asset.param == "csp")
    assert csp.tools == ("web", "zap") and csp.severity == "high"


def test_diff_new_fixed_unchanged_keeps_first_seen() -> None:
    old = [replace(header("csp"), first_seen="2026-01-01"), header("xcto")]
    new = [header("csp"), header("hsts")]
    d = diff(new, old)
    assert [f.asset.param for f in d.new] == ["hsts"]
    assert [f.asset.param for f in d.fixed] == ["xcto"]
    assert [(f.asset.param, f.first_seen) for f in d.unchanged] == [("csp", "2026-01-01")]


def test_finding_round_trips_through_json_dict() -> None:
    f = replace(header("csp"), steps=("web",), cve=("CVE-2024-1",))
    assert Finding.from_dict(f.to_dict()) == f
