"""An Argo Events webhook stand-in on 127.0.0.1: checks the bearer token like an EventSource with authSecret,
keeps the bodies it accepted, and can fail on purpose (an HTTP status, or no answer until the client's timeout)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class WebhookServer:
    def __init__(self, token: str = "webhook-token-for-tests") -> None:
        self.token = token
        self.received: list[dict] = []
        self.fail_with: int | None = None  # e.g. 503: answer that instead of accepting
        self.hang_seconds: float = 0.0  # sleep before answering (to hit the client's timeout)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if outer.hang_seconds:
                    time.sleep(outer.hang_seconds)
                if self.headers.get("Authorization") != f"Bearer {outer.token}":
                    return self._answer(401, b"unauthorized")
                if outer.fail_with:
                    return self._answer(outer.fail_with, b"event bus unavailable")
                outer.received.append(json.loads(body))
                return self._answer(200, b"success")

            def _answer(self, code: int, text: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, *args: object) -> None:
                pass

        self._handler = Handler
        self._bind(0)

    def _bind(self, port: int) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/scan"

    def start(self) -> WebhookServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def restart(self) -> WebhookServer:
        """Listen again on the same port after stop()."""
        self._bind(self.server.server_address[1])
        return self.start()
