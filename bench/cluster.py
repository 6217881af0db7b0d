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
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd
import requests

from lib.config import Settings
from lib.insights.cluster_frames import cluster_view, node_count_figure, snapshot_samples
from lib.insights.cluster_snapshot import ClusterSnapshots, take_snapshot
from lib.runtime import connect_kube
from testkit.kube_api_server import KubeApiServer

GOAL_S = 1.0
NODES = 1000
PODS = 10_000
REPEATS = 3
WF = "workflows.argoproj.io/workflow"


def ts(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def synthetic_cluster(api: KubeApiServer, nodes: int = NODES, pods: int = PODS, seed: int = 11) -> None:
    """EKS-shaped: 10% `general` on-demand nodes, the rest `spot`; pods spread over them (daemonsets, scan pods
    of a few hundred Workflows), 5% pending and unschedulable; autoscaler events and its status ConfigMap."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    names = []
    for i in range(nodes):
        group, cap = ("general", "ON_DEMAND") if i < nodes // 10 else ("spot", "SPOT")
        name = f"ip-10-0-{i // 250}-{i % 250}.ec2.internal"
        names.append(name)
        api.put(
            "nodes",
            {
                "metadata": {
                    "name": name,
                    "creationTimestamp": ts(now - timedelta(minutes=rng.randrange(5, 5000))),
                    "labels": {
                        "eks.amazonaws.com/nodegroup": group,
                        "eks.amazonaws.com/capacityType": cap,
                        "role": group,
                        "node.kubernetes.io/instance-type": rng.choice(
                            ["m5.large", "m5.xlarge", "c5.xlarge", "m6i.xlarge"]
                        ),
                        "topology.kubernetes.io/zone": rng.choice(["us-east-1a", "us-east-1b", "us-east-1c"]),
                        "kubernetes.io/os": "linux",
                        "kubernetes.io/arch": "amd64",
                    },
                },
                "spec": {"providerID": f"aws:///us-east-1a/i-{i:017x}"},
                "status": {
                    "allocatable": {
                        "cpu": "3920m",
                        "memory": "15896Mi",
                        "pods": "58",
                        "ephemeral-storage": "76224326324",
                    },
                    "capacity": {"cpu": "4", "memory": "16139Mi", "pods": "58"},
                    "conditions": [
                        {"type": t, "status": "False", "reason": f"Kubelet{t}"}
                        for t in ("MemoryPressure", "DiskPressure", "PIDPressure")
                    ]
                    + [
                        {
                            "type": "Ready",
                            "status": "True" if rng.random() > 0.01 else "Unknown",
                            "reason": "KubeletReady",
                        }
                    ],
                    "nodeInfo": {"kubeletVersion": "v1.31.0-eks", "containerRuntimeVersion": "containerd://1.7"},
                },
            },
        )
    for j in range(pods):
        wf = f"scan-{rng.randrange(400):012x}"
        pending = rng.random() < 0.05
        scan_pod = rng.random() < 0.7
        containers = [
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
        status: dict = {
            "phase": "Pending" if pending else "Running",
            "startTime": ts(now - timedelta(minutes=rng.randrange(1, 120))),
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
        api.put(
            "pods",
            {
                "metadata": {
                    "name": f"{wf}-{j}" if scan_pod else f"daemon-{j}",
                    "namespace": "scanboard" if scan_pod else "kube-system",
                    "labels": {WF: wf, "workflows.argoproj.io/completed": "false"} if scan_pod else {"app": "daemon"},
                    "creationTimestamp": ts(now - timedelta(minutes=rng.randrange(1, 120))),
                },
                "spec": {
                    "containers": containers,
                    "serviceAccountName": "scanboard-workflow",
                    "tolerations": [
                        {"key": "scanboard.io/spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
                    ],
                    **({} if pending else {"nodeName": rng.choice(names)}),
                },
                "status": status,
            },
        )
    for k in range(300):
        reason = rng.choice(["TriggeredScaleUp", "NotTriggerScaleUp", "ScaleDown"])
        api.put(
            "events",
            {
                "metadata": {"name": f"ev-{k}", "namespace": "scanboard" if reason != "ScaleDown" else "kube-system"},
                "reason": reason,
                "message": f"{reason}: pod triggered scale-up: [{{spot 10->12}}]",
                "source": {"component": "cluster-autoscaler"},
                "count": rng.randrange(1, 5),
                "involvedObject": {"kind": "Node" if reason == "ScaleDown" else "Pod", "name": f"x-{k}"},
                "lastTimestamp": ts(now - timedelta(minutes=rng.randrange(0, 600))),
            },
        )
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


def main() -> None:
    api = KubeApiServer().start()
    tmp = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    try:
        t = time.perf_counter()
        synthetic_cluster(api)
        print(
            f"served {NODES:,} nodes, {PODS:,} pods, 300 events in {time.perf_counter() - t:.1f} s "
            f"(pods list {sum(map(len, api._raw['pods'].values())) / 1e6:.1f} MB of JSON)"
        )
        kubeconfig = api.write_kubeconfig(tmp / "kubeconfig")
        settings = Settings(_env_file=None, kubeconfig=str(kubeconfig), scanboard_data_dir=tmp)
        kube = connect_kube(settings)

        # peer: fetch + decode the biggest list with plain requests
        t = time.perf_counter()
        body = requests.get(
            f"{api.url}/api/v1/pods", headers={"Authorization": f"Bearer {api.token}"}, timeout=30
        ).content
        json.loads(body)
        peer_s = time.perf_counter() - t

        take_snapshot(kube)  # warm-up: connections, imports, plotly's first figure
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
        snap_s, frames_s, history_fig_s, total_s = (statistics.median(r[i] for r in runs) for i in range(4))

        # 50 viewers at once on the shared snapshot: one list per resource.
        api.request_counts.clear()
        shared = ClusterSnapshots(lambda: kube, interval_s=15)
        viewers = [threading.Thread(target=shared.get) for _ in range(50)]
        t = time.perf_counter()
        for v in viewers:
            v.start()
        for v in viewers:
            v.join()
        shared_s = time.perf_counter() - t
        shared_requests = sum(api.request_counts.values())

        print(
            f"nodes={len(view.nodes):,} pods={len(snap.pods):,} pending={len(view.pending):,} "
            f"events={len(view.events):,} node_groups={len(view.capacity)} samples={len(samples):,}"
        )
        print(
            f"snapshot (4 API calls, JSON decode): {snap_s:.3f} s; frames + snapshot figures: {frames_s:.3f} s; "
            f"node-count figure (6 h of samples, 500 scan starts): {history_fig_s:.3f} s"
        )
        print(
            f"total per refresh: runs {[round(r[3], 3) for r in runs]} -> median {total_s:.3f} s (goal <= {GOAL_S} s)"
        )
        print(f"API requests per snapshot: {per_snapshot}")
        print(f"50 concurrent viewers on the shared snapshot: {shared_requests} API requests in {shared_s:.3f} s")
        print(f"peer (requests.get + json.loads of the pod list): {peer_s:.3f} s; total/peer = {total_s / peer_s:.1f}x")
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
        one_per_resource = all(n == 1 for n in per_snapshot.values()) and shared_requests == 4
        met = total_s <= GOAL_S and one_per_resource
        print(
            f"goal_met={'true' if met else 'false'} nodes={NODES} pods={PODS} total_s={total_s:.3f} "
            f"snapshot_s={snap_s:.3f} frames_figures_s={frames_s + history_fig_s:.3f} "
            f"api_requests={int(sum(per_snapshot.values()))} viewers50_api_requests={shared_requests} "
            f"peer_s={peer_s:.3f}"
        )
        kube.close()
    finally:
        api.stop()


if __name__ == "__main__":
    main()
