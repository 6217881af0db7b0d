"""An HTTP endpoint on 127.0.0.1 that stands in for Slack, Teams, a customer's webhook and a target's
well-known file: it keeps every POST (headers and raw body), can fail the next N of them on purpose, and
serves whatever is put in `files` to GET."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.attempts = 0
        self.fail_next = 0  # answer this many POSTs with 503 before accepting again
        self.files: dict[str, str] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.attempts += 1
                if outer.fail_next > 0:
                    outer.fail_next -= 1
                    return self._answer(503, b"try later")
                outer.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                return self._answer(200, b"ok")

            def do_GET(self) -> None:
                body = outer.files.get(self.path)
                self._answer(200 if body is not None else 404, (body or "not found").encode())

            def _answer(self, status: int, data: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
