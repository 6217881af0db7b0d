"""Benchmark: following 1,000 running scans in cluster mode, with viewers on their progress pages.

Why: the portal used to GET each running scan's Workflow every ~2 s (1,000 running scans ~ 500 requests/s per
replica). Now one labelled list per interval (lib.engines.argo_index) serves the sync loop and every viewer.
Goal: <= 2 API requests per interval whatever the number of running scans and viewers, and <= 0.5 s of sync
(list + decode + summarise 1,000 Workflows + database) per interval at 1,000 running scans.

Setup: 1,000 running Workflows with realistic status.nodes (our pipeline's DAG: the root, three scanners each a
Retry node with a failed spot attempt and a running one, report/publish/notify pending; about 12 nodes each, the
fields a controller writes) in the Kubernetes API test server (testkit/kube_api_server.py); 1,000 running scans in
SQLite; each interval runs the sync loop once and 20 viewers open 5 progress pages each.

Peer: the old way, one GET per running scan, timed once in the same run.

Run: .venv/bin/python bench/argo_sync.py   (last line: goal_met=<true|false> requests_per_interval=.. ...)
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert

from bench.timing import goal_line, kube_ts, load_average_line
from lib.adapters.models import RUNNING, Scan
from lib.config import Settings
from lib.engines.argo import ArgoEngine, workflow_name
from lib.engines.argo_index import SCAN_WORKFLOW_SELECTOR
from lib.runtime import build_runtime
from testkit.kube_api_server import KubeApiServer

RUNNING_SCANS = 1000
INTERVALS = 7
INTERVAL_S = 2.0
VIEWERS = 20
PAGES_PER_VIEWER = 5
GOAL_REQUESTS = 2
PEER_SAMPLE = 100
GOAL_SYNC_S = 0.5
WORKFLOWS_API = "/apis/argoproj.io/"


def _node(wf: str, node_id: str, label: str, kind: str, phase: str, start: datetime, **extra) -> dict:
    node = {
        "id": node_id,
        "name": f"{wf}.{label}" if kind != "DAG" else wf,
        "displayName": label,
        "type": kind,
        "templateName": extra.pop("template", label),
        "templateScope": "local/",
        "phase": phase,
        "boundaryID": extra.pop("boundary", wf),
        "startedAt": kube_ts(start),
        "progress": extra.pop("progress", "0/1"),
    }
    if phase in ("Failed", "Succeeded", "Error"):
        node["finishedAt"] = kube_ts(start + timedelta(seconds=40))
        node["resourcesDuration"] = {"cpu": 12, "memory": 40}
    node.update(extra)
    return node


def running_workflow(scan_id: str, rng: random.Random, now: datetime) -> dict:
    """A running scan-<id> as the controller writes it mid-run: a spot interruption already retried once."""
    wf = workflow_name(scan_id)
    start = now - timedelta(seconds=rng.randrange(30, 900))
    nodes = {wf: _node(wf, wf, wf, "DAG", "Running", start, template="pipeline", boundary="", children=[])}
    for i, scanner in enumerate(("portscan", "web", "tls")):
        retry = f"{wf}-{1000 + i}"
        attempts = [f"{wf}-{2000 + 2 * i}", f"{wf}-{2001 + 2 * i}"]
        nodes[wf]["children"].append(retry)
        nodes[retry] = _node(
            wf, retry, scanner, "Retry", "Running", start, template=f"scan-{scanner}", children=attempts
        )
        for n, attempt in enumerate(attempts):
            phase = "Failed" if n == 0 else "Running"
            nodes[attempt] = _node(
                wf,
                attempt,
                f"{scanner}({n})",
                "Pod",
                phase,
                start + timedelta(seconds=60 * n),
                template=f"scan-{scanner}",
                boundary=wf,
                hostNodeName=f"ip-10-0-{rng.randrange(16)}-{rng.randrange(250)}.ec2.internal",
                message="pod deleted (spot interruption)" if phase == "Failed" else "",
                inputs={"parameters": [{"name": "target", "value": "https://app.example.org/"}]},
                outputs={"exitCode": "143"} if phase == "Failed" else {},
                children=[f"{wf}-3000"] if n == 1 else [],
            )
    for j, step in enumerate(("report", "publish", "notify")):
        node_id = f"{wf}-{3000 + j}"
        nodes[node_id] = _node(
            wf, node_id, step, "Pod", "Pending", start, children=[f"{wf}-{3001 + j}"] if j < 2 else []
        )
    name_label, _, value = SCAN_WORKFLOW_SELECTOR.partition("=")
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {
            "name": wf,
            "namespace": "scanboard",
            "labels": {name_label: value, "app.kubernetes.io/part-of": "scanboard"},
        },
        "spec": {"workflowTemplateRef": {"name": "scanboard-scan"}, "arguments": {"parameters": []}},
        "status": {"phase": "Running", "startedAt": kube_ts(start), "progress": "2/9", "nodes": nodes},
    }


def seed(api: KubeApiServer, engine: ArgoEngine, n: int) -> list[str]:
    rng = random.Random(7)
    now = datetime.now(UTC)
    ids = [f"{k:012x}" for k in range(n)]
    rows = []
    for scan_id in ids:
        api.put("workflows", running_workflow(scan_id, rng, now))
        rows.append(
            {
                "id": scan_id,
                "target": "https://app.example.org/",
                "host": "app.example.org",
                "requester_email": f"user{scan_id}@example.org",
                "scanners": {"portscan": {}, "web": {}, "tls": {}},
                "status": RUNNING,
                "status_reason": f"submitted to Argo as Workflow {workflow_name(scan_id)}",
                "created_at": now,
                "confirmed_at": now,
                "started_at": now,
                "heartbeat_at": now,  # seen before
                "deliveries": 1,
                "next_attempt_at": now + timedelta(minutes=2),
            }
        )
    with engine.sessions.begin() as s:
        s.execute(insert(Scan), rows)
    return ids


def viewers(engine: ArgoEngine, ids: list[str], rng: random.Random) -> None:
    def look() -> None:
        for scan_id in rng.sample(ids, PAGES_PER_VIEWER):
            engine.progress(scan_id)

    threads = [threading.Thread(target=look) for _ in range(VIEWERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def main() -> int:
    api = KubeApiServer().start()
    tmp = Path(tempfile.mkdtemp(prefix="bench-argo-sync-"))
    try:
        settings = Settings(
            _env_file=None,
            scanboard_mode="argo",
            scanboard_secret_key="bench-secret-0123456789-abcdefghij",
            scanboard_data_dir=tmp,
            kubeconfig=str(api.write_kubeconfig(tmp / "kubeconfig")),
            argo_webhook_url="http://127.0.0.1:9/scan",
            argo_sync_seconds=INTERVAL_S,
        )
        rt = build_runtime(settings)
        engine = rt.engine
        assert isinstance(engine, ArgoEngine)
        ids = seed(api, engine, RUNNING_SCANS)
        print(f"served {RUNNING_SCANS:,} running Workflows ({api.served_megabytes('workflows'):.1f} MB)")

        t = time.perf_counter()  # peer: a GET per running scan, as before (100 of them timed, scaled to all)
        kube = engine.kube()
        for scan_id in ids[:PEER_SAMPLE]:
            kube.get_workflow(workflow_name(scan_id))
        peer_s = (time.perf_counter() - t) * RUNNING_SCANS / PEER_SAMPLE

        rng = random.Random(3)
        requests, syncs = [], []
        for _ in range(INTERVALS):
            before = api.request_count(WORKFLOWS_API)
            t = time.perf_counter()
            recorded = engine.sync_running()
            syncs.append(time.perf_counter() - t)
            assert recorded == [], "no Workflow has finished"
            viewers(engine, ids, rng)
            requests.append(api.request_count(WORKFLOWS_API) - before)
            time.sleep(INTERVAL_S + 0.05)  # the next interval: the shared list is stale again
        sync_s = statistics.median(syncs)
        print(f"API requests per interval (sync + {VIEWERS} viewers x {PAGES_PER_VIEWER} pages): {requests}")
        print(
            f"sync time per interval: {[round(s, 3) for s in syncs]} -> median {sync_s:.3f} s (goal <= {GOAL_SYNC_S} s)"
        )
        print(
            f"peer (a GET per running scan): {RUNNING_SCANS} requests in {peer_s:.3f} s; ratio {peer_s / sync_s:.1f}x"
        )
        print(load_average_line())
        met = max(requests) <= GOAL_REQUESTS and sync_s <= GOAL_SYNC_S
        print(
            goal_line(
                met,
                f"running={RUNNING_SCANS} requests_per_interval={max(requests)} sync_s={sync_s:.3f} "
                f"peer_requests={RUNNING_SCANS} peer_s={peer_s:.3f}",
            )
        )
        rt.db.dispose()
        return 0 if met else 1
    finally:
        api.stop()


if __name__ == "__main__":
    sys.exit(main())
