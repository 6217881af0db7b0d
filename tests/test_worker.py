"""The worker CLI as the WorkflowTemplate calls it, on a local work folder and the local report store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ZAP_REPORT = ROOT / "tests" / "fixtures" / "zap" / "baseline-careless-site.json"


def worker(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("SMTP_HOST", "REPORTS_BUCKET", "SCANBOARD_MODE")}
    env["SCANBOARD_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run(
        [sys.executable, "-m", "lib.worker", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_zap_report_from_another_image_is_parsed_into_the_web_step(tmp_path) -> None:
    work = tmp_path / "work"
    run = worker(
        tmp_path,
        "parse",
        "web",
        "--tool",
        "zap",
        "--input",
        str(ZAP_REPORT),
        "--scan-id",
        "abc123abc123",
        "--target",
        "https://shop.example/",
        "--workdir",
        str(work),
    )
    assert run.returncode == 0, run.stderr
    step = json.loads((work / "abc123abc123" / "steps" / "web.json").read_text())
    assert step["state"] == "succeeded" and step["tool"] == "zap" and step["findings"]
    assert all(f["steps"] == ["web"] for f in step["findings"])
    assert (work / "abc123abc123" / "raw" / "zap.json").is_file()


def test_report_says_a_requested_scanner_that_left_no_result_failed(tmp_path) -> None:
    work = tmp_path / "work"
    common = ["--scan-id", "abc123abc123", "--workdir", str(work)]
    worker(
        tmp_path,
        "parse",
        "web",
        "--tool",
        "zap",
        "--input",
        str(ZAP_REPORT),
        *common,
        "--target",
        "https://shop.example/",
    )
    marker = work / "abc123abc123" / "steps" / "tls.requested.json"
    marker.write_text("{}")  # the tls pod started, then was killed before writing its result
    run = worker(tmp_path, "report", *common, "--target", "https://shop.example/", "--email", "ana@example.com")
    assert run.returncode == 0, run.stderr
    doc = json.loads((work / "abc123abc123" / "findings.json").read_text())
    states = {s["step"]: (s["state"], s["message"]) for s in doc["steps"]}
    assert states["portscan"] == ("skipped", "not requested")
    assert states["tls"][0] == "failed" and "left no result" in states["tls"][1]
    assert states["web"][0] == "succeeded"
    assert (work / "abc123abc123" / "report.pdf").read_bytes().startswith(b"%PDF-")
    published = worker(tmp_path, "publish", *common)
    assert published.returncode == 0, published.stderr
    assert (tmp_path / "data" / "reports" / "abc123abc123" / "report.pdf").is_file()


def test_bad_usage_and_unreadable_input_fail_with_a_reason(tmp_path) -> None:
    assert worker(tmp_path, "scan", "nope", "--scan-id", "a", "--workdir", "/tmp").returncode == 2
    run = worker(
        tmp_path,
        "parse",
        "web",
        "--tool",
        "zap",
        "--input",
        str(tmp_path / "missing.json"),
        "--scan-id",
        "abc123abc123",
        "--target",
        "https://shop.example/",
        "--workdir",
        str(tmp_path),
    )
    assert run.returncode == 1 and "cannot be read" in run.stdout


def test_cluster_report_does_not_call_findings_new_when_their_scanner_failed_last_time(tmp_path) -> None:
    """The previous published scan's findings.json says which scanners succeeded: web failed there, so this
    scan's web findings are not compared (not "new"); the scan after compares them again."""
    work = tmp_path / "work"
    target = ["--target", "https://shop.example/"]

    def scan(scan_id: str, web_ok: bool) -> dict:
        common = ["--scan-id", scan_id, "--workdir", str(work)]
        if web_ok:
            worker(tmp_path, "parse", "web", "--tool", "zap", "--input", str(ZAP_REPORT), *common, *target)
        else:
            steps = work / scan_id / "steps"
            steps.mkdir(parents=True)
            (steps / "web.requested.json").write_text("{}")
            (steps / "web.json").write_text(json.dumps({"step": "web", "state": "failed", "tool": "zap"}))
        assert worker(tmp_path, "report", *common, *target, "--email", "ana@example.com").returncode == 0
        assert worker(tmp_path, "publish", *common).returncode == 0
        return json.loads((work / scan_id / "findings.json").read_text())

    scan("aaaaaaaaaaa1", web_ok=False)
    first_good = scan("aaaaaaaaaaa2", web_ok=True)
    assert first_good["findings"] and {f["diff_state"] for f in first_good["findings"]} == {"not_compared"}
    assert first_good["diff"] == {"new": 0, "fixed": 0, "unchanged": 0, "not_compared": len(first_good["findings"])}
    again = scan("aaaaaaaaaaa3", web_ok=True)
    assert {f["diff_state"] for f in again["findings"]} == {"unchanged"}
