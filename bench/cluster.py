"""Benchmark: the cluster page over 1,000 nodes and 10,000 pods served by the tests' Kubernetes API server.

Why: in argo mode the page lists Nodes, Pods and autoscaler Events every interval and turns them into tables and
figures; at EKS sizes that must stay under a second, and the API must see at most one list per resource per
interval whatever the number of viewers (goal P4). Goal: snapshot + frames + figures <= 1 s.

Measured: the snapshot (HTTP lists through the official client, JSON decoding), the frames and the snapshot's
figures, plus the node-count-over-time figure from 6 hours of samples (every 15 s) with 500 scan starts marked;
then 50 viewers asking the shared ClusterSnapshots at once, counting the API requests they caused.

Peer: one raw GET of the same pod list with `requests` + json.loads, in the same run (what merely fetching the
biggest list costs on this machine).

Run: .venv/bin/python bench/cluster.py   (last line: goal_met=<true|false> total_s=.. api_requests=.. ...)
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd
import requests

from bench.timing import goal_line, kube_ts, load_average_line, timed
from lib.adapters.kube import Kube
from lib.config import Settings
from lib.insights.cluster_frames import ClusterView, cluster_view, node_count_figure, snapshot_samples
from lib.insights.cluster_snapshot import ClusterSnapshot, ClusterSnapshots, take_snapshot
from lib.runtime import connect_kube
from testkit.kube_api_server import KubeApiServer

GOAL_S = 1.0
NODES = 1000
PODS = 10_000
REPEATS = 3
EVENTS = 300
WF = "workflows.argoproj.io/workflow"


def _node(i: int, nodes: int, rng: random.Random, now: datetime) -> dict:
    """Node i: the first tenth in the on-demand `general` group, the rest `spot`; about 1% not Ready."""
    group, cap = ("general", "ON_DEMAND") if i < nodes // 10 else ("spot", "SPOT")
    return {
        "metadata": {
            "name": _node_name(i),
            "creationTimestamp": kube_ts(now - timedelta(minutes=rng.randrange(5, 5000))),
            "labels": {
                "eks.amazonaws.com/nodegroup": group,
                "eks.amazonaws.com/capacityType": cap,
                "role": group,
                "node.kubernetes.io/instance-type": rng.choice(["m5.large", "m5.xlarge", "c5.xlarge", "m6i.xlarge"]),
                "topology.kubernetes.io/zone": rng.choice(["us-east-1a", "us-east-1b", "us-east-1c"]),
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
            },
        },
        "spec": {"providerID": f"aws:///us-east-1a/i-{i:017x}"},
        "status": {
            "allocatable": {"cpu": "3920m", "memory": "15896Mi", "pods": "58", "ephemeral-storage": "76224326324"},
            "capacity": {"cpu": "4", "memory": "16139Mi", "pods": "58"},
            "conditions": [
                {"type": t, "status": "False", "reason": f"Kubelet{t}"}
                for t in ("MemoryPressure", "DiskPressure", "PIDPressure")
            ]
            + [{"type": "Ready", "status": "True" if rng.random() > 0.01 else "Unknown", "reason": "KubeletReady"}],
            "nodeInfo": {"kubeletVersion": "v1.31.0-eks", "containerRuntimeVersion": "containerd://1.7"},
        },
    }


def _node_name(i: int) -> str:
    return f"ip-10-0-{i // 250}-{i % 250}.ec2.internal"


def _pod_containers(wf: str, rng: random.Random) -> list[dict]:
    """A scan pod's main container with varied requests, plus Argo's wait sidecar."""
    return [
        {
            "name": "main",
            "image": "ghcr.io/scanboard/scanboard:1.0",
            "resources": {
                "requests": {
                    "cpu": rng.choice(["250m", "500m", "1"]),
                    "memory": rng.choice(["256Mi", "512Mi", "1Gi"]),
                },
                "limits": {"memory": "2Gi"},
            },
            "env": [{"name": "SCAN_ID", "value": wf[5:]}],
            "volumeMounts": [{"name": "work", "mountPath": "/work"}],
        },
        {
            "name": "wait",
            "image": "quay.io/argoproj/argoexec:v3.6",
            "resources": {"requests": {"cpu": "10m", "memory": "64Mi"}},
        },
    ]


def _pod_status(pending: bool, rng: random.Random, now: datetime) -> dict:
    """Running, or Pending with the scheduler's Unschedulable condition (what the page lists as pending)."""
    status: dict = {
        "phase": "Pending" if pending else "Running",
        "startTime": kube_ts(now - timedelta(minutes=rng.randrange(1, 120))),
    }
    if pending:
        status["conditions"] = [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/1000 nodes are available: 1000 Insufficient cpu.",
            }
        ]
    return status


def _pod(j: int, names: list[str], rng: random.Random, now: datetime) -> dict:
    """Pod j: 70% a scan pod of one of 400 Workflows, the rest daemonset pods; 5% pending (no node)."""
    wf = f"scan-{rng.randrange(400):012x}"
    pending = rng.random() < 0.05
    scan_pod = rng.random() < 0.7
    containers = _pod_containers(wf, rng)
    status = _pod_status(pending, rng, now)
    return {
        "metadata": {
            "name": f"{wf}-{j}" if scan_pod else f"daemon-{j}",
            "namespace": "scanboard" if scan_pod else "kube-system",
            "labels": {WF: wf, "workflows.argoproj.io/completed": "false"} if scan_pod else {"app": "daemon"},
            "creationTimestamp": kube_ts(now - timedelta(minutes=rng.randrange(1, 120))),
        },
        "spec": {
            "containers": containers,
            "serviceAccountName": "scanboard-workflow",
            "tolerations": [{"key": "scanboard.io/spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"}],
            **({} if pending else {"nodeName": rng.choice(names)}),
        },
        "status": status,
    }


def _autoscaler_event(k: int, rng: random.Random, now: datetime) -> dict:
    """Cluster-autoscaler event k: scale-ups (on pods) and scale-downs (on nodes) over the last 10 hours."""
    reason = rng.choice(["TriggeredScaleUp", "NotTriggerScaleUp", "ScaleDown"])
    return {
        "metadata": {"name": f"ev-{k}", "namespace": "scanboard" if reason != "ScaleDown" else "kube-system"},
        "reason": reason,
        "message": f"{reason}: pod triggered scale-up: [{{spot 10->12}}]",
        "source": {"component": "cluster-autoscaler"},
        "count": rng.randrange(1, 5),
        "involvedObject": {"kind": "Node" if reason == "ScaleDown" else "Pod", "name": f"x-{k}"},
        "lastTimestamp": kube_ts(now - timedelta(minutes=rng.randrange(0, 600))),
    }


def synthetic_cluster(api: KubeApiServer, nodes: int = NODES, pods: int = PODS, seed: int = 11) -> None:
    """EKS-shaped: 10% `general` on-demand nodes, the rest `spot`; pods spread over them (daemonsets, scan pods
    of a few hundred Workflows), 5% pending and unschedulable; autoscaler events and its status ConfigMap."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    for i in range(nodes):
        api.put("nodes", _node(i, nodes, rng, now))
    names = [_node_name(i) for i in range(nodes)]
    for j in range(pods):
        api.put("pods", _pod(j, names, rng, now))
    for k in range(EVENTS):
        api.put("events", _autoscaler_event(k, rng, now))
    api.put(
        "configmaps",
        {
            "metadata": {"name": "cluster-autoscaler-status", "namespace": "kube-system"},
            "data": {"status": "Cluster-autoscaler status: Healthy (ready=990 unready=10)"},
        },
    )


def synthetic_history(snap_samples, hours: int = 6, every_s: int = 15, scans: int = 500):
    now = datetime.now(UTC)
    rows = []
    n = hours * 3600 // every_s
    for i in range(n):
        t = now - timedelta(seconds=(n - i) * every_s)
        for metric, group, cap, value in snap_samples:
            rows.append(
                {
                    "taken_at": t,
                    "metric": metric,
                    "group": group,
                    "capacity_type": cap,
                    "value": max(0.0, value + (i % 40) - 20),
                }
            )
    starts = pd.DataFrame(
        {
            "scan": [f"{k:012x}" for k in range(scans)],
            "started": [now - timedelta(seconds=k * hours * 3600 / scans) for k in range(scans)],
        }
    )
    return pd.DataFrame(rows), starts


def _serve_cluster(api: KubeApiServer) -> None:
    """Put the synthetic cluster into the API server and say how big its biggest list is."""
    _, served_s = timed(lambda: synthetic_cluster(api))
    print(
        f"served {NODES:,} nodes, {PODS:,} pods, {EVENTS} events in {served_s:.1f} s "
        f"(pods list {api.served_megabytes('pods'):.1f} MB of JSON)"
    )


def _peer_seconds(api: KubeApiServer) -> float:
    """The peer: fetch + decode the biggest list (pods) with plain requests, what merely reading it costs."""

    def fetch() -> None:
        headers = {"Authorization": f"Bearer {api.token}"}
        json.loads(requests.get(f"{api.url}/api/v1/pods", headers=headers, timeout=30).content)

    return timed(fetch)[1]


@dataclass
class _Refreshes:
    """REPEATS page refreshes: per run (snapshot, frames + figures, history figure, total) seconds, the API
    requests each snapshot made, and what the last refresh showed."""

    runs: list[tuple[float, float, float, float]]
    per_snapshot: dict[str, float]
    snap: ClusterSnapshot
    view: ClusterView
    samples: pd.DataFrame

    def medians(self) -> tuple[float, ...]:
        """Median snapshot, frames, history-figure and total seconds."""
        return tuple(statistics.median(r[i] for r in self.runs) for i in range(4))


def _time_refreshes(api: KubeApiServer, kube: Kube) -> _Refreshes:
    """What the page does every interval, timed step by step after a warm-up (connections, imports, plotly's
    first figure) that a running portal has long paid."""
    take_snapshot(kube)
    cluster_view(take_snapshot(kube))
    samples, starts = synthetic_history(snapshot_samples(take_snapshot(kube)))  # what the sampler would hold
    api.request_counts.clear()
    runs = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        snap = take_snapshot(kube)
        t1 = time.perf_counter()
        view = cluster_view(snap)
        t2 = time.perf_counter()
        node_count_figure(samples, starts)
        t3 = time.perf_counter()
        runs.append((t1 - t0, t2 - t1, t3 - t2, t3 - t0))
    per_snapshot = {p: n / REPEATS for p, n in sorted(api.request_counts.items())}
    return _Refreshes(runs, per_snapshot, snap, view, samples)


def _shared_viewers(api: KubeApiServer, kube: Kube, viewers: int = 50) -> tuple[int, float]:
    """Many viewers at once on the shared ClusterSnapshots (goal P4: one list per resource whatever their
    number); returns the API requests they caused and the wall time."""
    api.request_counts.clear()
    shared = ClusterSnapshots(lambda: kube, interval_s=15)
    threads = [threading.Thread(target=shared.get) for _ in range(viewers)]

    def run_all() -> None:
        for v in threads:
            v.start()
        for v in threads:
            v.join()

    _, shared_s = timed(run_all)
    return sum(api.request_counts.values()), shared_s


def _report(r: _Refreshes, shared_requests: int, shared_s: float, peer_s: float) -> bool:
    """Print the measurements and the goal line; True when the goal is met."""
    snap_s, frames_s, history_fig_s, total_s = r.medians()
    view = r.view
    print(
        f"nodes={len(view.nodes):,} pods={len(r.snap.pods):,} pending={len(view.pending):,} "
        f"events={len(view.events):,} node_groups={len(view.capacity)} samples={len(r.samples):,}"
    )
    print(
        f"snapshot (4 API calls, JSON decode): {snap_s:.3f} s; frames + snapshot figures: {frames_s:.3f} s; "
        f"node-count figure (6 h of samples, 500 scan starts): {history_fig_s:.3f} s"
    )
    print(f"total per refresh: runs {[round(x[3], 3) for x in r.runs]} -> median {total_s:.3f} s (goal <= {GOAL_S} s)")
    print(f"API requests per snapshot: {r.per_snapshot}")
    print(f"50 concurrent viewers on the shared snapshot: {shared_requests} API requests in {shared_s:.3f} s")
    print(f"peer (requests.get + json.loads of the pod list): {peer_s:.3f} s; total/peer = {total_s / peer_s:.1f}x")
    print(load_average_line())
    one_per_resource = all(n == 1 for n in r.per_snapshot.values()) and shared_requests == 4
    met = total_s <= GOAL_S and one_per_resource
    print(
        goal_line(
            met,
            f"nodes={NODES} pods={PODS} total_s={total_s:.3f} snapshot_s={snap_s:.3f} "
            f"frames_figures_s={frames_s + history_fig_s:.3f} api_requests={int(sum(r.per_snapshot.values()))} "
            f"viewers50_api_requests={shared_requests} peer_s={peer_s:.3f}",
        )
    )
    return met


def main() -> int:
    api = KubeApiServer().start()
    tmp = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    try:
        _serve_cluster(api)
        kubeconfig = api.write_kubeconfig(tmp / "kubeconfig")
        kube = connect_kube(Settings(_env_file=None, kubeconfig=str(kubeconfig), scanboard_data_dir=tmp))
        peer_s = _peer_seconds(api)
        refreshes = _time_refreshes(api, kube)
        shared_requests, shared_s = _shared_viewers(api, kube)
        met = _report(refreshes, shared_requests, shared_s, peer_s)
        kube.close()
    finally:
        api.stop()
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
