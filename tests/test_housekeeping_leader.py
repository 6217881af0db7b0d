"""Two processes' runtimes on one database (the portal and the API under `make run`, or replicas on PostgreSQL):
a finished API scan's callback is POSTed once, not once per process, even when the receiver is slow enough for
both housekeeping loops to be due while the first POST is in flight; when the holder stops, the other takes
over the duties (a second scan's callback still arrives)."""

from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from lib.runtime import Runtime, build_runtime
from testkit.targets import serving
from tests.conftest import wait_until
from tests.scan_rows import add_finished_scan


def slow_receiver(received: list[str]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            received.append(body["id"])
            time.sleep(1.5)  # both loops pass several times meanwhile (every 0.2 s)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


def finished_api_scan(rt: Runtime, scan_id: str, hook: str) -> None:
    add_finished_scan(rt.sessions, scan_id, requested_via="api", callback_url=hook)


def test_one_process_posts_each_callback_and_the_other_takes_over(make_settings) -> None:
    settings = make_settings(retry_seconds=0.2, leader_lease_seconds=2.0)
    received: list[str] = []
    with serving(slow_receiver(received)) as port:
        hook = f"http://127.0.0.1:{port}/hook"
        first, second = build_runtime(settings).start(), build_runtime(settings).start()
        try:
            finished_api_scan(first, "aaaaaaaaaaaa", hook)
            wait_until(lambda: received, timeout=20)
            time.sleep(2.5)  # the slow POST ends, and more passes of both loops run
            assert received == ["aaaaaaaaaaaa"]
            first.stop()  # releases the lease: the other process holds it on its next pass
            finished_api_scan(second, "bbbbbbbbbbbb", hook)
            wait_until(lambda: "bbbbbbbbbbbb" in received, timeout=20)
            time.sleep(2.0)
            assert received == ["aaaaaaaaaaaa", "bbbbbbbbbbbb"]
        finally:
            first.stop()
            second.stop()
