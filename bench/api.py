"""The API under load on 127.0.0.1: 200 concurrent clients reading one scan's status, then 200 concurrent scan
submissions (to a loopback target, one port each).

Goals (issue 14): p99 <= 100 ms for GET /api/v1/scans/{id} at 200 concurrent readers, and the 200 concurrent
submissions all answered 202 and all recorded. The API runs as its own uvicorn process (as `make run` starts it);
the clients are asyncio + httpx in this one. Prints p50/p99 and requests/s per phase; exits 1 when a goal is missed.
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib.adapters.models import Scan
from lib.config import Settings
from lib.runtime import build_runtime
from lib.services import api_tokens
from testkit.targets import open_ports

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "200"))
READS_PER_CLIENT = 15
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


async def readers(base: str, key: str, scan_id: str) -> tuple[list[float], list[int], float]:
    clients = [client(base, key) for _ in range(CLIENTS)]
    try:
        await asyncio.gather(*(c.get(f"/scans/{scan_id}") for c in clients))  # connect and warm up

        async def one_client(c: httpx.AsyncClient) -> list[tuple[float, int]]:
            return [await timed(c, "GET", f"/scans/{scan_id}") for _ in range(READS_PER_CLIENT)]

        t = time.perf_counter()
        results = await asyncio.gather(*(one_client(c) for c in clients))
        wall = time.perf_counter() - t
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    flat = [r for rs in results for r in rs]
    return [d for d, _ in flat], [s for _, s in flat], wall


async def one_reader(base: str, key: str, scan_id: str, n: int = 300) -> tuple[list[float], list[int], float]:
    """A single client, one request at a time: the service time, what 200 concurrent readers queue behind."""
    async with client(base, key) as c:
        await c.get(f"/scans/{scan_id}")
        t = time.perf_counter()
        results = [await timed(c, "GET", f"/scans/{scan_id}") for _ in range(n)]
        wall = time.perf_counter() - t
    return [d for d, _ in results], [s for _, s in results], wall


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
            one_d, _, one_wall = asyncio.run(one_reader(base, key, scan_id))
            print(line("GET /scans/{id} x 1 reader (service time)", one_d, one_wall))
            read_d, read_s, read_wall = asyncio.run(readers(base, key, scan_id))
            print(line(f"GET /scans/{{id}} x {CLIENTS} concurrent readers", read_d, read_wall))
            sub_d, sub_s, sub_wall = asyncio.run(submitters(base, key, target_port))
            print(line(f"POST /scans x {CLIENTS} concurrent submissions", sub_d, sub_wall))
        finally:
            api.terminate()
            api.wait(timeout=30)
        rt = build_runtime(Settings(_env_file=None))
        with rt.sessions() as s:
            recorded = s.query(Scan).filter(Scan.requested_via == "api").count() - 1
        rt.stop()
    read_errors = sum(s != 200 for s in read_s)
    sub_errors = sum(s != 202 for s in sub_s)
    p99 = pct(read_d, 99)
    ok = p99 <= P99_GOAL_MS and read_errors == 0 and sub_errors == 0 and recorded == CLIENTS
    print(f"read_errors={read_errors} submit_errors={sub_errors} recorded={recorded}/{CLIENTS}")
    print(
        f"p99_get_ms={p99:.1f} goal<={P99_GOAL_MS:.0f} submissions_ok={sub_errors == 0 and recorded == CLIENTS} ok={ok}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
