"""The API under load on 127.0.0.1: 200 concurrent clients reading one scan's status, then 200 concurrent scan
submissions (to a loopback target, one port each).

Goals (issue 14): p99 <= 100 ms for GET /api/v1/scans/{id} at 200 concurrent readers, and the 200 concurrent
submissions all answered 202 and all recorded. The API runs as its own uvicorn process (as `make run` starts it);
the 200 readers are wrk (a C load generator: a Python client on the same 2 cores would measure itself), one
reader and the submissions are asyncio + httpx. Before reading, the first scan is left to finish: scans run in
scan workers (pods in the cluster), and an embedded scan rendering its PDF in the API process is not what a status
read costs. Prints p50/p99 and requests/s per phase; exits 1 when a goal is missed.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib.adapters.models import FINAL_STATUSES, VIA_API, Scan
from lib.config import Settings
from lib.runtime import build_runtime
from lib.services import api_tokens
from testkit.targets import open_ports

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "200"))
READ_SECONDS = int(os.environ.get("BENCH_READ_SECONDS", "10"))
POLL_S = 1.0  # a reader is a pipeline polling its scan; the CLI polls every 2 s by default (cli/main.py --poll)
WORKERS = int(os.environ.get("BENCH_API_WORKERS", "1"))  # uvicorn worker processes (each its own Runtime)
P99_GOAL_MS = 100.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def settings_env(data: Path) -> dict[str, str]:
    """High limits (the bench is one owner asking for 200 scans at once) and one scan worker."""
    return {
        "SCANBOARD_DATA_DIR": str(data),
        "LIMIT_REQUESTS_PER_HOUR": "100000",
        "LIMIT_RUNNING": "100000",
        "LIMIT_UNCONFIRMED": "100000",
        "SCAN_WORKERS": "1",
    }


def start_api(data: Path, port: int) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--port", str(port)]
    cmd += ["--host", "127.0.0.1", "--log-level", "warning", "--no-access-log", "--workers", str(WORKERS)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **settings_env(data)})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the API did not start")


async def timed(client: httpx.AsyncClient, method: str, url: str, **kw: object) -> tuple[float, int]:
    t = time.perf_counter()
    resp = await client.request(method, url, **kw)  # type: ignore[arg-type]
    return time.perf_counter() - t, resp.status_code


def client(base: str, key: str) -> httpx.AsyncClient:
    """One client, one connection: like 200 separate pipelines (and it spares httpx's pool its O(n) scans)."""
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    return httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}, limits=limits, timeout=60)


@dataclass(frozen=True)
class WrkResult:
    p50_ms: float
    p99_ms: float
    requests: int
    rps: float
    errors: int  # non-2xx/3xx answers plus socket errors

    def line(self, name: str) -> str:
        return f"{name}: n={self.requests} p50={self.p50_ms:.1f}ms p99={self.p99_ms:.1f}ms rps={self.rps:.0f}"


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def parse_wrk(out: str) -> WrkResult:
    """wrk --latency's report: the 50%/99% lines, the request count, Requests/sec, and any error counts."""
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    errors += sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    return WrkResult(
        p50_ms=_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        p99_ms=_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        requests=int(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        errors=errors,
    )


POLLER_SCRIPT = """
-- Each connection is one pipeline polling its scan: a read, then a pause of 0.5-1.5 s (mean 1 s; the CLI's
-- default is 2 s), drawn per pause so 200 pollers do not march in step.
math.randomseed(os.time())
function delay() return math.random(%d, %d) end
"""


def readers(base: str, key: str, scan_id: str, poll_s: float | None, clients: int = CLIENTS) -> WrkResult:
    """`clients` keep-alive connections reading one scan's status for READ_SECONDS, from one wrk thread: each polls
    every ~poll_s seconds (jittered +-50%), or back to back when poll_s is None (the API's capacity)."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("bench/api.py needs wrk: `make bench` installs it (apt-get install wrk)")
    cmd = [wrk, "-t1", f"-c{clients}", f"-d{READ_SECONDS}s", "--timeout", "10s", "--latency"]
    cmd += ["-H", f"Authorization: Bearer {key}", f"{base}/scans/{scan_id}"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        if poll_s is not None:
            script.write(POLLER_SCRIPT % (poll_s * 500, poll_s * 1500))
            script.flush()
            cmd[1:1] = ["-s", script.name]
        return parse_wrk(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def wait_finished(base: str, key: str, scan_id: str, timeout_s: float = 180) -> str:
    deadline = time.monotonic() + timeout_s
    status = ""
    while time.monotonic() < deadline:
        status = httpx.get(f"{base}/scans/{scan_id}", headers={"Authorization": f"Bearer {key}"}).json()["status"]
        if status in FINAL_STATUSES:
            return status
        time.sleep(0.5)
    raise SystemExit(f"the first scan did not finish in {timeout_s:.0f} s (status {status})")


async def submitters(base: str, key: str, port: int) -> tuple[list[float], list[int], float]:
    body = {
        "target": f"http://127.0.0.1:{port}/",
        "scanners": ["portscan"],
        "options": {"portscan": {"ports": str(port)}},
    }
    clients = [client(base, key) for _ in range(CLIENTS)]
    try:
        t = time.perf_counter()
        results = await asyncio.gather(*(timed(c, "POST", "/scans", json=body) for c in clients))
        wall = time.perf_counter() - t
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    return [d for d, _ in results], [s for _, s in results], wall


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000


def line(name: str, durations: list[float], wall: float) -> str:
    return (
        f"{name}: n={len(durations)} p50={pct(durations, 50):.1f}ms p99={pct(durations, 99):.1f}ms "
        f"max={max(durations) * 1000:.1f}ms mean={statistics.mean(durations) * 1000:.1f}ms "
        f"rps={len(durations) / wall:.0f}"
    )


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp, open_ports(1) as (target_port,):
        data = Path(tmp)
        os.environ.update(settings_env(data))
        rt = build_runtime(Settings(_env_file=None))
        key = api_tokens.create(rt.sessions, "bench@example.com", "bench", ["scans:read", "scans:write"], 1).key
        rt.stop()
        port = free_port()
        api = start_api(data, port)
        base = f"http://127.0.0.1:{port}/api/v1"
        try:
            first = httpx.post(
                base + "/scans",
                headers={"Authorization": f"Bearer {key}"},
                json={"target": f"http://127.0.0.1:{target_port}/", "scanners": ["portscan"]},
            )
            assert first.status_code == 202, first.text
            scan_id = first.json()["id"]
            print(f"first scan {scan_id}: {wait_finished(base, key, scan_id)}")
            print(
                readers(base, key, scan_id, None, clients=1).line(
                    "GET /scans/{id} x 1 reader back to back (service time)"
                )
            )
            read = readers(base, key, scan_id, POLL_S)
            print(read.line(f"GET /scans/{{id}} x {CLIENTS} concurrent readers polling every ~{POLL_S:g} s (wrk)"))
            capacity = readers(base, key, scan_id, None)
            print(capacity.line(f"GET /scans/{{id}} x {CLIENTS} connections back to back (capacity, no goal)"))
            sub_d, sub_s, sub_wall = asyncio.run(submitters(base, key, target_port))
            print(line(f"POST /scans x {CLIENTS} concurrent submissions", sub_d, sub_wall))
        finally:
            api.terminate()
            api.wait(timeout=30)
        rt = build_runtime(Settings(_env_file=None))
        with rt.sessions() as s:
            recorded = s.query(Scan).filter(Scan.requested_via == VIA_API).count() - 1
        rt.stop()
    read_errors = read.errors
    sub_errors = sum(s != 202 for s in sub_s)
    p99 = read.p99_ms
    ok = p99 <= P99_GOAL_MS and read_errors == 0 and sub_errors == 0 and recorded == CLIENTS
    print(f"read_errors={read_errors} submit_errors={sub_errors} recorded={recorded}/{CLIENTS}")
    print(
        f"p99_get_ms={p99:.1f} goal<={P99_GOAL_MS:.0f} submissions_ok={sub_errors == 0 and recorded == CLIENTS} ok={ok}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
