"""A small Kubernetes API server on 127.0.0.1 that the official `kubernetes` client reaches through a kubeconfig.

Why: the PyPI fakes ignore label selectors or answer watches with nothing, and patching the client would test
nothing real. This speaks the REST paths the portal reads (workflows, pods, nodes, events, configmaps) with
list/get/watch, label and field selectors, Status objects for errors, a bearer-token check, and switches to make
the API refuse access, answer slowly or go away.
"""

from __future__ import annotations

import copy
import json
import queue
import re
import socket
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

# plural -> (API prefix, namespaced, List kind, apiVersion)
RESOURCES: dict[str, tuple[str, bool, str, str]] = {
    "workflows": ("/apis/argoproj.io/v1alpha1", True, "WorkflowList", "argoproj.io/v1alpha1"),
    "pods": ("/api/v1", True, "PodList", "v1"),
    "nodes": ("/api/v1", False, "NodeList", "v1"),
    "events": ("/api/v1", True, "EventList", "v1"),
    "configmaps": ("/api/v1", True, "ConfigMapList", "v1"),
}
_PATH = re.compile(
    r"^(?P<prefix>/api/v1|/apis/argoproj\.io/v1alpha1)(?:/namespaces/(?P<ns>[^/]+))?/(?P<plural>[a-z]+)(?:/(?P<name>[^/]+))?$"
)
_GROUP = {"workflows": "argoproj.io"}
EVENT_LOG_SIZE = 2000  # watch history kept for resourceVersion resumes; older -> 410 Gone, as a real server


# ---------------------------------------------------------------- selectors (labelSelector / fieldSelector)


class SelectorError(ValueError):
    pass


def _split_requirements(text: str) -> list[str]:
    """Split on commas that are not inside `in (a,b)` parentheses."""
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


_SET_REQ = re.compile(r"^(?P<key>[^\s!=()]+)\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)$")
_EQ_REQ = re.compile(r"^(?P<key>[^\s!=()]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^\s!=(),]*)$")
_EXISTS_REQ = re.compile(r"^(?P<neg>!?)(?P<key>[^\s!=()]+)$")


def parse_selector(text: str | None) -> list[tuple[str, str, frozenset[str]]]:
    """Kubernetes selector syntax -> [(key, op, values)], op in = != in notin exists !exists."""
    reqs = []
    for part in _split_requirements(text or ""):
        if m := _SET_REQ.match(part):
            values = frozenset(v.strip() for v in m["values"].split(",") if v.strip())
            reqs.append((m["key"], m["op"], values))
        elif m := _EQ_REQ.match(part):
            reqs.append((m["key"], "!=" if m["op"] == "!=" else "=", frozenset({m["value"]})))
        elif m := _EXISTS_REQ.match(part):
            reqs.append((m["key"], "!exists" if m["neg"] else "exists", frozenset()))
        else:
            raise SelectorError(f"unable to parse requirement: {part!r}")
    return reqs


def selector_matches(reqs: list[tuple[str, str, frozenset[str]]], lookup) -> bool:
    for key, op, values in reqs:
        value = lookup(key)
        if op == "=" and value not in values:
            return False
        if op in ("!=", "notin") and value is not None and value in values:
            return False
        if op == "in" and value not in values:
            return False
        if op == "exists" and value is None:
            return False
        if op == "!exists" and value is not None:
            return False
    return True


_FIELD_ALIASES = {"source": "source.component"}  # events: `source=cluster-autoscaler`


def field_value(obj: dict, key: str) -> str | None:
    cur: Any = obj
    for part in _FIELD_ALIASES.get(key, key).split("."):
        if not isinstance(cur, dict) or part not in cur:
            return ""  # a real API server compares absent fields as the empty string
        cur = cur[part]
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return cur if isinstance(cur, str) else str(cur)


# ---------------------------------------------------------------- the server


def _status(code: int, reason: str, message: str, details: dict | None = None) -> dict:
    out = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        out["details"] = details
    return out


class KubeApiServer:
    """Holds the objects, serves them, and records what was asked.

    Objects are plain dicts as the API returns them. `put`/`delete` notify open watches. `request_counts` counts
    requests per URL path (query excluded). Switches: `token` (None disables the check), `forbidden` (plurals
    answering 403), `delay_s` (answer slowly), `stop()`/`start()` (the API goes away / comes back on the same port).
    """

    def __init__(self, token: str | None = "test-token", port: int = 0):
        self.token = token
        self.forbidden: set[str] = set()
        self.delay_s = 0.0
        self.request_counts: Counter[str] = Counter()
        self._objects: dict[str, dict[tuple[str, str], dict]] = {p: {} for p in RESOURCES}
        self._raw: dict[str, dict[tuple[str, str], bytes]] = {p: {} for p in RESOURCES}  # serialised once, on put
        self._rv = 0
        self._log: list[tuple[int, str, str, dict]] = []  # (rv, plural, type, object)
        self._watchers: list[queue.Queue] = []
        self._lock = threading.RLock()
        self._port = port
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._conns: set[socket.socket] = set()
        self._stopping = threading.Event()

    # -- lifecycle
    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> KubeApiServer:
        """Start (or restart after stop()) on the same port."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = _Httpd(("127.0.0.1", self._port), _Handler)
        httpd.api = self
        self._port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """The API goes away: stop listening and cut open connections (keep-alive and watches)."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        with self._lock:
            for q in self._watchers:
                q.put(None)
            conns = list(self._conns)
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        httpd.shutdown()
        httpd.server_close()
        if self._thread:
            self._thread.join(5)

    def __enter__(self) -> KubeApiServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def request_count(self, path_prefix: str = "") -> int:
        with self._lock:
            return sum(n for p, n in self.request_counts.items() if p.startswith(path_prefix))

    def served_megabytes(self, plural: str) -> float:
        """The size of the JSON a full list of `plural` serves (what a bench reads per snapshot)."""
        with self._lock:
            return sum(map(len, self._raw[plural].values())) / 1e6

    # -- objects
    def put(self, plural: str, obj: dict) -> dict:
        """Create or replace an object (ADDED or MODIFIED for watchers); returns the stored copy."""
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        if RESOURCES[plural][1]:
            meta.setdefault("namespace", "default")
        else:
            meta.pop("namespace", None)
        key = (meta.get("namespace", ""), meta["name"])
        with self._lock:
            old = self._objects[plural].get(key)
            self._rv += 1
            meta["resourceVersion"] = str(self._rv)
            meta.setdefault("uid", old["metadata"]["uid"] if old else str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
            self._objects[plural][key] = obj
            self._raw[plural][key] = json.dumps(obj, separators=(",", ":")).encode()
            self._notify(plural, "MODIFIED" if old else "ADDED", obj)
        return obj

    def put_many(self, plural: str, objs) -> None:
        for o in objs:
            self.put(plural, o)

    def delete(self, plural: str, name: str, namespace: str = "") -> None:
        with self._lock:
            key = (namespace if RESOURCES[plural][1] else "", name)
            obj = self._objects[plural].pop(key)
            self._raw[plural].pop(key, None)
            self._rv += 1
            obj = copy.deepcopy(obj)
            obj["metadata"]["resourceVersion"] = str(self._rv)
            self._notify(plural, "DELETED", obj)

    def get(self, plural: str, name: str, namespace: str = "") -> dict | None:
        with self._lock:
            return self._objects[plural].get((namespace if RESOURCES[plural][1] else "", name))

    def _notify(self, plural: str, etype: str, obj: dict) -> None:
        entry = (self._rv, plural, etype, obj)
        self._log.append(entry)
        del self._log[:-EVENT_LOG_SIZE]
        for q in self._watchers:
            q.put(entry)

    # -- kubeconfig
    def write_kubeconfig(self, path: str | Path, namespace: str = "scanboard", token: str | None = None) -> Path:
        """A kubeconfig whose current context points at this server with a bearer token."""
        path = Path(path)
        user: dict[str, Any] = {"token": token if token is not None else (self.token or "none")}
        cfg = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "test", "cluster": {"server": self.url}}],
            "users": [{"name": "portal", "user": user}],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": "portal", "namespace": namespace}}],
            "current-context": "test",
        }
        path.write_text(yaml.safe_dump(cfg))
        return path

    # -- request handling (called from handler threads)
    def _select(self, plural: str, ns: str | None, labels, fields) -> list[dict]:
        return [self._objects[plural][k] for k in self._select_keys(plural, ns, labels, fields)]

    def _select_keys(self, plural: str, ns: str | None, labels, fields) -> list[tuple[str, str]]:
        return [k for k, obj in self._objects[plural].items() if self._visible(obj, ns, labels, fields, plural, k[0])]

    @staticmethod
    def _visible(obj, ns, labels, fields, plural, ons) -> bool:
        if ns is not None and RESOURCES[plural][1] and ons != ns:
            return False
        obj_labels = obj.get("metadata", {}).get("labels") or {}
        return selector_matches(labels, obj_labels.get) and selector_matches(fields, lambda k: field_value(obj, k))


class _Httpd(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    api: KubeApiServer

    def process_request(self, request, client_address):
        with self.api._lock:
            self.api._conns.add(request)
        super().process_request(request, client_address)

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return  # the client gave up (read timeout) or the server was stopped: expected in tests
        super().handle_error(request, client_address)

    def shutdown_request(self, request):
        with self.api._lock:
            self.api._conns.discard(request)
        super().shutdown_request(request)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Httpd

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def _send_json(self, code: int, body: dict) -> None:
        data = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        api = self.server.api
        url = urlsplit(self.path)
        q = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        with api._lock:
            api.request_counts[url.path] += 1
        if api.delay_s:
            time.sleep(api.delay_s)
        if api.token is not None and self.headers.get("Authorization") != f"Bearer {api.token}":
            return self._send_json(401, _status(401, "Unauthorized", "Unauthorized"))
        if url.path == "/version":
            return self._send_json(200, {"major": "1", "minor": "31", "gitVersion": "v1.31.0-scanboard-test"})
        m = _PATH.match(url.path)
        if (
            not m
            or m["plural"] not in RESOURCES
            or RESOURCES[m["plural"]][0] != m["prefix"]
            or (m["ns"] is not None and not RESOURCES[m["plural"]][1])
        ):
            return self._send_json(404, _status(404, "NotFound", "the server could not find the requested resource"))
        plural, ns, name = m["plural"], m["ns"], m["name"]
        group = _GROUP.get(plural, "")
        if plural in api.forbidden:
            verb = "watch" if q.get("watch", "").lower() in ("true", "1") else "get" if name else "list"
            where = f' in the namespace "{ns}"' if ns else " at the cluster scope"
            target = f'{plural}.{group} "{name}"' if group and name else f'{plural} "{name}"' if name else plural
            msg = (
                f'{target} is forbidden: User "system:serviceaccount:scanboard:scanboard-portal" cannot {verb} '
                f'resource "{plural}" in API group "{group}"{where}'
            )
            return self._send_json(403, _status(403, "Forbidden", msg, {"kind": plural, "group": group}))
        try:
            labels = parse_selector(q.get("labelSelector"))
            fields = parse_selector(q.get("fieldSelector"))
        except SelectorError as e:
            return self._send_json(400, _status(400, "BadRequest", str(e)))
        if name:
            obj = api.get(plural, name, ns or "")
            if obj is None:
                what = f"{plural}.{group}" if group else plural
                return self._send_json(
                    404, _status(404, "NotFound", f'{what} "{name}" not found', {"name": name, "kind": plural})
                )
            with api._lock:
                body = api._raw[plural][(ns or "", name)]
            return self._send_raw(200, body)
        if q.get("watch", "").lower() in ("true", "1"):
            return self._watch(plural, ns, labels, fields, q)
        prefix, _, list_kind, api_version = RESOURCES[plural]
        with api._lock:
            raw = api._raw[plural]
            items = [raw[k] for k in api._select_keys(plural, ns, labels, fields)]
            head = json.dumps(
                {"kind": list_kind, "apiVersion": api_version, "metadata": {"resourceVersion": str(api._rv)}},
                separators=(",", ":"),
            ).encode()
        return self._send_raw(200, head[:-1] + b',"items":[' + b",".join(items) + b"]}")

    def _send_raw(self, code: int, data: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _watch(self, plural, ns, labels, fields, q) -> None:
        """Chunked JSON lines of watch events until timeoutSeconds (default 30 s) or the server stops."""
        api = self.server.api
        timeout = float(q.get("timeoutSeconds") or 30)
        since = q.get("resourceVersion") or ""
        inbox: queue.Queue = queue.Queue()
        with api._lock:
            if since in ("", "0"):  # "start at most recent": synthetic ADDED for current state
                backlog = [(api._rv, plural, "ADDED", o) for o in api._select(plural, ns, labels, fields)]
            else:
                oldest = api._log[0][0] if api._log else api._rv + 1
                if int(since) < oldest - 1 and int(since) < api._rv:
                    backlog = [(0, plural, "ERROR", _status(410, "Expired", f"too old resource version: {since}"))]
                else:
                    backlog = [e for e in api._log if e[0] > int(since)]
            api._watchers.append(inbox)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        deadline = time.monotonic() + timeout
        try:
            for entry in backlog:
                self._send_event(entry, plural, ns, labels, fields)
            while not api._stopping.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    entry = inbox.get(timeout=min(left, 0.25))
                except queue.Empty:
                    continue
                if entry is None:
                    break
                self._send_event(entry, plural, ns, labels, fields)
            if not api._stopping.is_set():
                self.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass
        finally:
            with api._lock:
                if inbox in api._watchers:
                    api._watchers.remove(inbox)
            self.close_connection = True

    def _send_event(self, entry, plural, ns, labels, fields) -> None:
        _, eplural, etype, obj = entry
        if eplural != plural:
            return
        if etype != "ERROR":
            ons = obj.get("metadata", {}).get("namespace", "")
            if not KubeApiServer._visible(obj, ns, labels, fields, plural, ons):
                return
        line = json.dumps({"type": etype, "object": obj}, separators=(",", ":")).encode() + b"\n"
        self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
        self.wfile.flush()
