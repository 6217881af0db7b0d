"""The CLI run as a pipeline runs it, on usage mistakes a user makes: a bad number for a flag is refused by
argparse (exit 2, a message naming the flag) before anything is asked of the API, and an --api URL that is not
the API (the portal's port, a web site) says so instead of a bare HTTP status."""

from __future__ import annotations

import os
import subprocess
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from testkit.targets import serving

ROOT = Path(__file__).resolve().parents[1]


class _Recorder(BaseHTTPRequestHandler):
    """Answers anything with 500 and records the request: the test asserts that none came."""

    seen: list[str]

    def _any(self) -> None:
        self.seen.append(f"{self.command} {self.path}")
        self.send_response(500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = _any

    def log_message(self, format: str, *args: object) -> None:
        pass


def run_cli(api: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SCANBOARD_TOKEN": "sbk_0000000000_" + "A" * 43, "SCANBOARD_API_URL": api}
    return subprocess.run(
        [sys.executable, "-m", "cli", "scan", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


BAD_NUMBERS = [
    ("--poll", "-1"),
    ("--poll", "0"),
    ("--poll", "nan"),
    ("--poll", ""),
    ("--timeout", "-5"),
    ("--timeout", "inf"),
    ("--timeout", "soon"),
]


@pytest.mark.parametrize(("flag", "value"), BAD_NUMBERS)
def test_a_bad_number_is_refused_before_anything_is_requested(flag: str, value: str) -> None:
    seen: list[str] = []
    handler = type("Handler", (_Recorder,), {"seen": seen})
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), handler)) as port:
        run = run_cli(f"http://127.0.0.1:{port}", "http://127.0.0.1:9/", "--wait", flag, value)
    assert run.returncode == 2, run.stderr
    assert f"argument {flag}" in run.stderr and "Traceback" not in run.stderr, run.stderr
    assert run.stdout == "" and seen == []
