"""The CLI run as a pipeline runs it, on usage mistakes a user makes: a bad number for a flag is refused by
argparse (exit 2, a message naming the flag) before anything is asked of the API, and an --api URL that is not
the API (the portal's port, a web site) says so instead of a bare HTTP status."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cli.main import DEFAULT_API
from testkit.targets import http_target, serving
from tests.browser import portal

ROOT = Path(__file__).resolve().parents[1]


class _Recorder(BaseHTTPRequestHandler):
    """Records each request and answers it with `status`, `kind` and `body`, whatever it asked."""

    seen: list[str]
    status, kind, body = 500, "text/plain", b""

    def _any(self) -> None:
        self.seen.append(f"{self.command} {self.path}")
        self.send_response(self.status)
        self.send_header("Content-Type", self.kind)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    do_GET = do_POST = _any

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def recorder(**answer: object) -> Iterator[tuple[str, list[str]]]:
    """A server on 127.0.0.1 giving one answer to everything; yields its URL and the requests it saw."""
    seen: list[str] = []
    handler = type("Handler", (_Recorder,), {"seen": seen, **answer})
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), handler)) as port:
        yield f"http://127.0.0.1:{port}", seen


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
    with recorder() as (api, seen):
        run = run_cli(api, "http://127.0.0.1:9/", "--wait", flag, value)
    assert run.returncode == 2, run.stderr
    assert f"argument {flag}" in run.stderr and "Traceback" not in run.stderr, run.stderr
    assert run.stdout == "" and seen == []


def assert_not_the_api(run: subprocess.CompletedProcess, api: str, status: int) -> None:
    assert run.returncode == 2 and run.stdout == "", (run.stdout, run.stderr)
    assert f"error: {api} did not answer as the scanboard API (HTTP {status})" in run.stderr, run.stderr
    assert "SCANBOARD_API_URL" in run.stderr and DEFAULT_API in run.stderr and "Traceback" not in run.stderr


@pytest.mark.slow
def test_the_portals_url_given_as_the_api_says_it_is_not_the_api(tmp_path) -> None:
    """The README's `make run` puts the portal on 8501 and the API on 8502; the portal's URL given as --api."""
    with portal(tmp_path / "data") as base:
        run = run_cli(base, "http://127.0.0.1:9/", "--scanners", "web")
    assert_not_the_api(run, base, 405)


def test_a_web_site_given_as_the_api_says_it_is_not_the_api() -> None:
    with http_target() as port:
        run = run_cli(f"http://127.0.0.1:{port}/", "http://127.0.0.1:9/", "--scanners", "web")
    assert_not_the_api(run, f"http://127.0.0.1:{port}", 501)


@pytest.mark.parametrize(
    ("status", "kind", "body"),
    [
        (200, "text/html", b"<!doctype html><title>Hello</title>"),  # a page where a new scan was expected
        (404, "application/json", b'{"detail": "Not Found"}'),  # another JSON API, without our routes
    ],
)
def test_another_service_given_as_the_api_says_it_is_not_the_api(status: int, kind: str, body: bytes) -> None:
    with recorder(status=status, kind=kind, body=body) as (api, seen):
        run = run_cli(api + "/", "http://127.0.0.1:9/", "--scanners", "web")
    assert seen == ["POST /api/v1/scans"]
    assert_not_the_api(run, api, status)
