"""Benchmark: findings, diff and PDF report of one scan with 10,000 tool findings on 500 URLs.

Why: a crawl of a large site makes ZAP report the same missing header on every page, and many rules on many
pages; the report step groups them per (rule, host), diffs against the previous scan (stored the same way) and
renders the PDF. The old diff was quadratic and recomputed fingerprints in its inner loop (~6 s per call at
1,000 findings, twice per report). Goal: <= 15 s and <= 1 GB peak memory (the report pod's limit) for all of it.

Shape: 500 URLs on one host; each URL has 20 findings drawn from 1,000 rules (ZAP-like rule ids, plus the
builtin header rules on every page), so grouping gives ~1,000 findings with ~10 instances each. The previous
scan has the same shape with 10 % of the rules different (new/fixed) and is read back from dicts, as the worker
reads findings.json.

Run: .venv/bin/python bench/report.py     (last line: goal_met=<true|false> seconds=.. peak_mb=.. ...)
"""

from __future__ import annotations

import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.timing import goal_line
from lib.core.findings import Asset, Finding, diff, group, severity_counts
from lib.engines.report import build_report
from lib.engines.workspace import ScanMeta, StepOutcome, Workspace

GOAL_S = 15.0
GOAL_MB = 1024.0
URLS = 500
PER_URL = 20
RULES = 1000
HOST = "big.example"
SEVERITIES = ("high", "medium", "low", "info")


def tool_findings(seed: int, shift: int) -> list[Finding]:
    """URLS x PER_URL findings as the web scanners emit them: one per (rule, URL)."""
    rng = random.Random(seed)
    out = []
    for u in range(URLS):
        url = f"https://{HOST}/section{u % 25}/page{u}.html"
        rules = rng.sample(range(RULES), PER_URL - 2)
        for r in rules:
            rid = (r + shift) % (RULES + 100)
            out.append(
                Finding(
                    "zap",
                    f"zap-{20000 + rid}",
                    f"Alert {rid}",
                    SEVERITIES[rid % 4],
                    Asset(host=HOST, port=443, protocol="https", url=url, param=f"p{rid % 7}"),
                    "2.16.1",
                    cwe=(f"CWE-{rid % 30}",),
                    evidence=f"evidence {rid} on page {u}",
                    steps=("web",),
                )
            )
        for rule_id, header in (
            ("missing-csp", "content-security-policy"),
            ("missing-hsts", "strict-transport-security"),
        ):
            out.append(
                Finding(
                    "scanboard-web",
                    rule_id,
                    f"{header} missing",
                    "medium",
                    Asset(host=HOST, port=443, protocol="https", url=url, param=header),
                    steps=("web",),
                )
            )
    return out


def main() -> int:
    current = tool_findings(1, 0)
    previous = [Finding.from_dict(f.to_dict()) for f in tool_findings(1, 100)]  # as read back from findings.json
    assert len(current) == URLS * PER_URL
    t0 = time.perf_counter()
    grouped = group(current)
    t_group = time.perf_counter() - t0
    t0 = time.perf_counter()
    d = diff(grouped, previous)
    states = [d.state_of(f) for f in grouped]
    t_diff = time.perf_counter() - t0
    with tempfile.TemporaryDirectory(prefix="scanboard-bench-") as tmp:
        ws = Workspace(Path(tmp), "bench0000001")
        ws.write_meta(ScanMeta("bench0000001", f"https://{HOST}/", "bench@example.com", {"web": {}}))
        ws.write_step(StepOutcome("web", "succeeded", "zap", "2.16.1", findings=current))
        t0, c0 = time.perf_counter(), time.process_time()
        result = build_report(ws, previous, previous_scan="bench0000000")
        t_report, cpu_report = time.perf_counter() - t0, time.process_time() - c0
        pdf_kb = result.pdf.stat().st_size / 1024
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{len(current)} tool findings on {URLS} URLs -> {len(grouped)} findings (rule, host); "
        f"counts {severity_counts(grouped)}; diff {d.counts()}, {states.count('new')} new by state_of"
    )
    print(
        f"group {t_group:.2f} s, diff + state_of {t_diff:.2f} s, "
        f"whole report step (read, group, diff, JSON, PDF) {t_report:.2f} s wall, {cpu_report:.2f} s CPU "
        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
    )
    print(f"PDF {pdf_kb:.0f} KB; peak RSS {peak_mb:.0f} MB")
    met = t_report <= GOAL_S and peak_mb <= GOAL_MB
    print(f"goals: report <= {GOAL_S:.0f} s, peak <= {GOAL_MB:.0f} MB")
    print(f"ratio to goal: time {t_report / GOAL_S:.2f}, memory {peak_mb / GOAL_MB:.2f} (<= 1 meets it)")
    print(goal_line(met, f"seconds={t_report:.2f} peak_mb={peak_mb:.0f} findings={len(grouped)}"))
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
