"""The CLI run as a subprocess, as a pipeline runs it, against the real API on 127.0.0.1 and a real local
target: each exit code (0 below the threshold, 1 at or above it, only new findings with --new-only, 2 on
errors), the SARIF it writes validated against the official schema, and the README's GitLab CI job run."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from lib.runtime import build_runtime
from lib.services import api_tokens
from testkit.targets import http_target
from tests.api_server import free_port, serve_api

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "tests/fixtures/sarif/sarif-schema-2.1.0.json").read_text())
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A started runtime, the API over it, a token and a careless HTTP target."""
    from lib.config import Settings

    data = tmp_path_factory.mktemp("cli")
    rt = build_runtime(Settings(scanboard_data_dir=data / "data", public_base_url="http://portal.test")).start()
    key = api_tokens.create(rt.sessions, "ci@example.com", "ci", ["scans:read", "scans:write"], 1).key
    try:
        with serve_api(rt) as base, http_target() as web:
            yield {"api": base, "token": key, "target": f"http://127.0.0.1:{web}/", "dir": data}
    finally:
        rt.stop()


def cli(stack, *args: str, token: str | None = None, api: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "SCANBOARD_TOKEN": stack["token"] if token is None else token}
    env["SCANBOARD_API_URL"] = api or stack["api"]
    return subprocess.run(
        [sys.executable, "-m", "cli", "scan", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )


WEB = ("--scanners", "web", "--wait", "--poll", "0.2")


def test_exit_codes_threshold_sarif_and_new_only(stack) -> None:
    sarif = stack["dir"] / "out.sarif"
    below = cli(stack, stack["target"], *WEB, "--fail-on", "high", "--sarif", str(sarif))
    assert below.returncode == 0, below.stderr
    assert re.fullmatch(r"[0-9a-f]{12}\n", below.stdout)  # stdout: the scan id only
    assert "succeeded" in below.stderr and "steps" in below.stderr  # progress went to stderr
    doc = json.loads(sarif.read_text())
    jsonschema.Draft4Validator(SCHEMA).validate(doc)
    rules = {r["ruleId"] for r in doc["runs"][0]["results"]}
    assert any(r.endswith("/missing-csp") for r in rules)

    at = cli(stack, stack["target"], *WEB, "--fail-on", "medium")
    assert at.returncode == 1, at.stderr
    assert "at or above medium: failing" in at.stderr and "Content-Security-Policy" in at.stderr

    # The same target again: nothing is new since the previous scan, so --new-only passes the build.
    again = cli(stack, stack["target"], *WEB, "--fail-on", "medium", "--new-only")
    assert again.returncode == 0, again.stderr


def test_errors_exit_2_with_a_clear_message(stack) -> None:
    cases = [
        (cli(stack, stack["target"], *WEB, token=""), "set SCANBOARD_TOKEN"),
        (cli(stack, stack["target"], *WEB, token="sbk_0000000000_" + "A" * 43), "not known"),
        (cli(stack, "ftp://nope", *WEB), "HTTP 422"),
        (cli(stack, stack["target"], "--scanners", "web", "--option", "web.depth=99", "--wait"), "web.depth"),
        (
            cli(stack, stack["target"], "--scanners", "portscan", "--option", "portscan.port=80"),
            "portscan has no option 'port'; its options are: ports,",
        ),
        (cli(stack, stack["target"], "--fail-on", "high"), "need --wait"),
        (cli(stack, stack["target"], *WEB, api=f"http://127.0.0.1:{free_port()}"), "cannot reach the API"),
        (cli(stack, stack["target"], "--option", "nonsense", "--wait"), "SCANNER.NAME=VALUE"),
    ]
    for run, words in cases:
        assert run.returncode == 2, (run.stdout, run.stderr)
        assert words in run.stderr and "Traceback" not in run.stderr, run.stderr


def test_a_scan_whose_scanner_failed_exits_2_unless_allowed(stack) -> None:
    closed = f"http://127.0.0.1:{free_port()}/"  # nothing listens: the web scanner fails, nothing is found
    run = cli(stack, closed, *WEB, "--fail-on", "high")
    assert run.returncode == 2 and "incomplete scan, scanner(s) failed: web" in run.stderr, run.stderr
    accepted = cli(stack, closed, *WEB, "--fail-on", "high", "--allow-partial")
    assert accepted.returncode == 0, accepted.stderr


def test_readme_gitlab_job_runs_end_to_end(stack) -> None:
    """The GitLab CI example in the README, its script run as the runner would (bash, the job's variables)."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```yaml\n(# \.gitlab-ci\.yml.*?)```", readme, re.S)
    assert block, "the README has a .gitlab-ci.yml example"
    job = yaml.safe_load(block.group(1))["scanboard"]
    env = {**os.environ, **{k: str(v) for k, v in job["variables"].items()}}
    env.update(SCANBOARD_API_URL=stack["api"], SCANBOARD_TOKEN=stack["token"], SCAN_TARGET=stack["target"])
    env["SCANBOARD_SCANNERS"] = "web"
    script = "set -e\n" + "\n".join(job["script"])
    run = subprocess.run(
        ["bash", "-c", script],
        cwd=stack["dir"],
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode in (0, 1), run.stderr
    (report,) = job["artifacts"]["paths"]
    jsonschema.Draft4Validator(SCHEMA).validate(json.loads((stack["dir"] / report).read_text()))
