"""lib.insights.cluster_snapshot, cluster_frames and sampler against the Kubernetes API test server over HTTP
(official client, generated kubeconfig), with nodes labelled as EKS and Karpenter label them: frames, the owner of a
pending pod, autoscaler events and status, one API list per resource per interval for any number of viewers, the API
going away."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import func, select

from lib.adapters.kube import KubeError, SharedKube
from lib.adapters.models import ClusterSample
from lib.insights.cluster_frames import cluster_view, node_count_figure, quantity, snapshot_samples
from lib.insights.cluster_snapshot import ClusterSnapshots, take_snapshot
from lib.insights.sampler import Sampler, cluster_probe, samples_frame, scan_starts
from lib.runtime import build_runtime, connect_kube, kube_settings

NOW = datetime.now(UTC).replace(microsecond=0)
WF = "workflows.argoproj.io/workflow"


def ts(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def node(name, labels, cpu="1930m", memory="7752604Ki", ready=True, age_min=600):
    return {
        "metadata": {"name": name, "labels": {"kubernetes.io/os": "linux", **labels}, "creationTimestamp": ts(age_min)},
        "status": {
            "allocatable": {"cpu": cpu, "memory": memory, "pods": "29"},
            "conditions": [
                {"type": "MemoryPressure", "status": "False"},
                {"type": "Ready", "status": "True" if ready else "Unknown"},
            ],
        },
    }


def eks(group, capacity, instance, zone):
    return {
        "eks.amazonaws.com/nodegroup": group,
        "eks.amazonaws.com/capacityType": capacity,
        "role": group,
        "node.kubernetes.io/instance-type": instance,
        "topology.kubernetes.io/zone": zone,
    }


def pod(
    name,
    namespace="scanboard",
    node_name=None,
    phase="Running",
    labels=None,
    cpu="100m",
    memory="128Mi",
    init_cpu=None,
    status_extra=None,
    age_min=5,
):
    spec = {
        "containers": [
            {"name": "main", "resources": {"requests": {"cpu": cpu, "memory": memory}}},
            {"name": "wait", "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}}},
        ]
    }
    if init_cpu:
        spec["initContainers"] = [{"name": "init", "resources": {"requests": {"cpu": init_cpu}}}]
    if node_name:
        spec["nodeName"] = node_name
    return {
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}, "creationTimestamp": ts(age_min)},
        "spec": spec,
        "status": {"phase": phase, **(status_extra or {})},
    }


def event(name, reason, obj_kind, obj_name, namespace="scanboard", component="cluster-autoscaler", minutes_ago=1):
    return {
        "metadata": {"name": name, "namespace": namespace},
        "reason": reason,
        "message": f"{reason} message",
        "source": {"component": component},
        "involvedObject": {"kind": obj_kind, "name": obj_name},
        "lastTimestamp": ts(minutes_ago),
        "count": 2,
    }


UNSCHEDULABLE = {
    "conditions": [
        {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": "0/3 nodes are available: 1 node(s) had untolerated taint "
            "{scanboard.io/spot: true}, 2 Insufficient cpu.",
        }
    ]
}


@pytest.fixture
def cluster(kube_api):
    kube_api.put_many(
        "nodes",
        [
            node("ip-10-0-1-10.ec2.internal", eks("general", "ON_DEMAND", "m5.large", "us-east-1a")),
            node(
                "ip-10-0-2-20.ec2.internal",
                eks("spot", "SPOT", "m5.xlarge", "us-east-1b"),
                cpu="3920m",
                memory="15896Mi",
            ),
            node("ip-10-0-2-21.ec2.internal", eks("spot", "SPOT", "c5.xlarge", "us-east-1c"), ready=False, age_min=2),
            node(
                "ip-10-0-3-30.ec2.internal",
                {
                    "karpenter.sh/capacity-type": "spot",
                    "karpenter.sh/nodepool": "scanners",
                    "node.kubernetes.io/instance-type": "c6i.large",
                    "topology.kubernetes.io/zone": "us-east-1a",
                },
            ),
        ],
    )
    kube_api.put_many(
        "pods",
        [
            pod("coredns-1", "kube-system", "ip-10-0-1-10.ec2.internal", cpu="100m", memory="70Mi"),
            pod(
                "scan-0123456789ab-web-1",
                node_name="ip-10-0-2-20.ec2.internal",
                cpu="500m",
                memory="512Mi",
                init_cpu="1",
                labels={WF: "scan-0123456789ab"},
            ),
            pod(
                "scan-0123456789ab-tls-2",
                node_name="ip-10-0-2-20.ec2.internal",
                cpu="250m",
                memory="256Mi",
                labels={WF: "scan-0123456789ab"},
            ),
            pod(
                "scan-abcdefabcdef-portscan-3",
                phase="Pending",
                labels={WF: "scan-abcdefabcdef"},
                status_extra=UNSCHEDULABLE,
                age_min=7,
            ),
            pod(
                "tool-pull",
                "default",
                "ip-10-0-1-10.ec2.internal",
                phase="Pending",
                status_extra={
                    "containerStatuses": [
                        {
                            "name": "main",
                            "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}},
                        }
                    ]
                },
            ),
            pod("other-wf-pod", phase="Pending", labels={WF: "nightly-backup"}, status_extra=UNSCHEDULABLE),
            pod(
                "scan-0123456789ab-report-9",
                node_name="ip-10-0-2-20.ec2.internal",
                phase="Succeeded",
                cpu="4",
                labels={WF: "scan-0123456789ab"},
            ),  # finished: holds nothing, not listed
        ],
    )
    kube_api.put_many(
        "events",
        [
            event("e1", "TriggeredScaleUp", "Pod", "scan-abcdefabcdef-portscan-3"),
            event("e2", "NotTriggerScaleUp", "Pod", "other-wf-pod", minutes_ago=3),
            event("e3", "ScaleDown", "Node", "ip-10-0-3-30.ec2.internal", namespace="kube-system", minutes_ago=30),
            event("e4", "Scheduled", "Pod", "scan-0123456789ab-web-1", component="default-scheduler"),
            event("e5", "ScaledUpGroup", "ConfigMap", "cluster-autoscaler-status", namespace="kube-system"),
        ],
    )
    kube_api.put(
        "configmaps",
        {
            "metadata": {"name": "cluster-autoscaler-status", "namespace": "kube-system"},
            "data": {
                "status": "Cluster-autoscaler status at 2026-11-22 01:00:00:\n"
                "Cluster-wide:\n  Health: Healthy (ready=3 unready=1)"
            },
        },
    )
    return kube_api


@pytest.fixture
def kube(cluster, kubeconfig, make_settings):
    k = connect_kube(make_settings(kubeconfig=str(kubeconfig), k8s_namespace="scanboard"))
    yield k
    k.close()


def test_snapshot_is_one_request_per_resource(cluster, kube):
    snap = take_snapshot(kube)
    assert snap.api_requests == 4 and not snap.warnings
    assert dict(cluster.request_counts) == {
        "/api/v1/nodes": 1,
        "/api/v1/pods": 1,
        "/api/v1/events": 1,
        "/api/v1/namespaces/kube-system/configmaps/cluster-autoscaler-status": 1,
    }
    assert "Health: Healthy" in snap.autoscaler_status
    assert "scan-0123456789ab-report-9" not in {p["metadata"]["name"] for p in snap.pods}  # finished pods left out


def test_nodes_frame_groups_capacity_and_requests(kube):
    snap = take_snapshot(kube)
    nodes = cluster_view(snap).nodes.set_index("node")
    spot = nodes.loc["ip-10-0-2-20.ec2.internal"]
    assert (spot["group"], spot["capacity_type"], spot["instance_type"], spot["zone"]) == (
        "spot",
        "SPOT",
        "m5.xlarge",
        "us-east-1b",
    )
    # web pod: max(500m + 10m, init 1) = 1 core; tls pod: 250m + 10m; the Succeeded pod holds nothing
    assert spot["cpu_requested"] == pytest.approx(1.26) and spot["cpu_allocatable"] == pytest.approx(3.92)
    assert spot["mem_requested_gib"] == pytest.approx((512 + 32 + 256 + 32) / 1024)
    assert spot["pods"] == 2 and spot["ready"]
    assert nodes.loc["ip-10-0-1-10.ec2.internal", "capacity_type"] == "ON_DEMAND"
    assert nodes.loc["ip-10-0-1-10.ec2.internal", "group"] == "general"
    assert not nodes.loc["ip-10-0-2-21.ec2.internal", "ready"]
    # created 2 minutes before NOW (the module's import), aged at the snapshot's own time however late it runs
    age_h = (snap.taken_at - (NOW - timedelta(minutes=2))).total_seconds() / 3600
    assert nodes.loc["ip-10-0-2-21.ec2.internal", "age_h"] == pytest.approx(age_h, abs=1 / 3600)
    karpenter = nodes.loc["ip-10-0-3-30.ec2.internal"]
    assert (karpenter["group"], karpenter["capacity_type"]) == ("scanners", "SPOT")


def test_pending_pods_with_reason_and_owning_scan(kube):
    pending = cluster_view(take_snapshot(kube)).pending.set_index("pod")
    assert set(pending.index) == {"scan-abcdefabcdef-portscan-3", "tool-pull", "other-wf-pod"}
    mine = pending.loc["scan-abcdefabcdef-portscan-3"]
    assert mine["scan"] == "abcdefabcdef" and mine["scan_link"] == "/progress?scan=abcdefabcdef"
    assert mine["reason"] == "Unschedulable" and "Insufficient cpu" in mine["message"]
    assert pending.loc["tool-pull", "reason"] == "ImagePullBackOff" and pd.isna(pending.loc["tool-pull", "scan"])
    assert pd.isna(pending.loc["other-wf-pod", "scan"])  # a Workflow, but not a scan's
    assert cluster_view(take_snapshot(kube)).pending["pod"].iloc[0] == "scan-abcdefabcdef-portscan-3"  # oldest


def test_autoscaler_events_only_the_three_reasons_newest_first(kube):
    events = cluster_view(take_snapshot(kube)).events
    assert list(events["reason"]) == ["TriggeredScaleUp", "NotTriggerScaleUp", "ScaleDown"]
    assert events.loc[0, "object"] == "Pod/scan-abcdefabcdef-portscan-3" and events.loc[2, "namespace"] == "kube-system"


def test_samples_count_nodes_per_group_and_capacity_type(kube):
    assert snapshot_samples(take_snapshot(kube)) == [
        ("nodes", "general", "ON_DEMAND", 1.0),
        ("nodes", "scanners", "SPOT", 1.0),
        ("nodes", "spot", "SPOT", 2.0),
        ("pending_pods", "", "", 3.0),
        ("scan_pods_running", "", "", 2.0),
    ]


def test_forbidden_events_and_missing_configmap_do_not_hide_the_nodes(cluster, kube):
    cluster.forbidden = {"events"}
    cluster.delete("configmaps", "cluster-autoscaler-status", "kube-system")
    snap = take_snapshot(kube)
    assert len(snap.nodes) == 4 and snap.events == [] and snap.autoscaler_status is None
    assert len(snap.warnings) == 1 and "403 Forbidden" in snap.warnings[0]


def test_one_snapshot_per_interval_whatever_the_number_of_viewers(cluster, kubeconfig, make_settings):
    settings = make_settings(kubeconfig=str(kubeconfig))
    clock = [0.0]
    kube = SharedKube(kube_settings(settings))
    shared = ClusterSnapshots(kube.get, interval_s=10, clock=lambda: clock[0])
    results = []
    threads = [threading.Thread(target=lambda: results.append(shared.get())) for _ in range(25)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 25 and len({id(r.snapshot) for r in results}) == 1
    assert cluster.request_count("/api/v1/nodes") == 1 and cluster.request_count("/api/v1/pods") == 1
    clock[0] = 9.9
    shared.get()
    assert cluster.request_count("/api/v1/nodes") == 1
    clock[0] = 10.0
    assert shared.get().snapshot is not results[0].snapshot
    assert cluster.request_count("/api/v1/nodes") == 2 and cluster.request_count("/api/v1/events") == 2
    kube.close()


def test_api_down_keeps_the_last_good_snapshot_and_says_why(cluster, kubeconfig, make_settings):
    settings = make_settings(kubeconfig=str(kubeconfig))
    clock = [0.0]
    kube = SharedKube(kube_settings(settings))
    shared = ClusterSnapshots(kube.get, interval_s=10, clock=lambda: clock[0])
    good = shared.get().snapshot
    cluster.stop()
    clock[0] = 10
    state = shared.get()
    assert state.snapshot is good and state.error_reason == "unreachable"
    assert cluster.url in state.error and "connection refused" in state.error
    assert shared.get() is state and shared.attempts == 2  # a dead API is retried once per interval, not per viewer
    cluster.start()
    clock[0] = 20
    assert shared.get().error is None
    kube.close()


def test_no_configuration_is_an_error_state_not_an_exception(tmp_path, make_settings):
    settings = make_settings(kubeconfig=str(tmp_path / "missing-kubeconfig"))
    with pytest.raises(KubeError):
        connect_kube(settings)
    state = ClusterSnapshots(SharedKube(kube_settings(settings)).get, interval_s=10).get()
    assert state.snapshot is None and state.error_reason == "config"


def test_sampler_records_each_snapshot_once_and_prunes_old_rows(cluster, kubeconfig, make_settings, runtime):
    settings = make_settings(kubeconfig=str(kubeconfig))
    clock = [0.0]
    kube = SharedKube(kube_settings(settings))
    shared = ClusterSnapshots(kube.get, interval_s=10, clock=lambda: clock[0])
    sampler = Sampler(runtime.sessions, cluster_probe(shared), interval_s=10, retention_hours=1)
    t0 = datetime.now(UTC)
    assert sampler.sample_once(t0) == 5
    assert sampler.sample_once(t0 + timedelta(seconds=5)) == 0  # same snapshot: not recorded twice
    cluster.put("nodes", node("ip-10-0-2-22.ec2.internal", eks("spot", "SPOT", "m5.xlarge", "us-east-1a")))
    clock[0] = 10
    assert sampler.sample_once(t0 + timedelta(seconds=10)) == 5
    frame = samples_frame(runtime.sessions, t0 - timedelta(minutes=1))
    spot = frame[(frame["metric"] == "nodes") & (frame["group"] == "spot")]
    assert list(spot["value"]) == [2.0, 3.0]
    sampler.sample_once(t0 + timedelta(hours=2))  # retention 1 h: the two old samples go
    with runtime.sessions() as s:
        assert (
            s.scalar(
                select(func.count()).select_from(ClusterSample).where(ClusterSample.taken_at < t0 + timedelta(hours=1))
            )
            == 0
        )
    sampler.stop()


def test_embedded_runtime_samples_the_worker_pool(runtime):
    assert runtime.sampler is not None and runtime.cluster is None
    runtime.sampler.sample_once()
    frame = samples_frame(runtime.sessions, datetime.now(UTC) - timedelta(minutes=5))
    last = frame.groupby("metric")["value"].last().to_dict()
    assert last == {"queue_length": 0.0, "workers_busy": 0.0, "workers_idle": float(runtime.settings.scan_workers)}


def test_node_count_figure_marks_scan_starts(kube, runtime):

    t0 = datetime.now(UTC)
    rows = [
        {"taken_at": t0 + timedelta(minutes=i), "metric": m, "group": g, "capacity_type": c, "value": v}
        for i in range(3)
        for m, g, c, v in snapshot_samples(take_snapshot(kube))
    ]
    starts = pd.DataFrame({"scan": ["0123456789ab"], "started": [t0 + timedelta(minutes=1)]})
    fig = node_count_figure(pd.DataFrame(rows), starts)
    names = {t.name for t in fig.data}
    assert names == {"general · ON_DEMAND", "spot · SPOT", "scanners · SPOT", "pending pods", "scan start"}
    assert list(next(t for t in fig.data if t.name == "scan start").text) == ["0123456789ab"]
    assert scan_starts(runtime.sessions, t0 - timedelta(hours=1)).empty


@pytest.mark.parametrize(
    "text, value",
    [
        ("250m", 0.25),
        ("2", 2.0),
        ("1.5", 1.5),
        ("512Mi", 512 * 2**20),
        ("7752604Ki", 7752604 * 1024),
        ("1G", 1e9),
        ("1e3", 1000.0),
        ("100n", 1e-7),
        ("", 0.0),
        (None, 0.0),
        ("lots", 0.0),
        (3, 3.0),
    ],
)
def test_quantity(text, value):
    assert quantity(text) == pytest.approx(value)


def test_argo_runtime_has_one_kubernetes_client_for_engine_and_snapshot(cluster, kubeconfig, make_settings):
    settings = make_settings(
        scanboard_mode="argo", kubeconfig=str(kubeconfig), scanboard_secret_key="k" * 32, reports_bucket="b"
    )
    rt = build_runtime(settings)  # not started: no loops, only the wiring
    try:
        assert rt.cluster is not None and rt.cluster.get().snapshot is not None
        assert rt.kube is not None and rt.engine.kube() is rt.kube.get()  # the snapshot reads through rt.kube.get
        assert cluster.request_count("/api/v1/nodes") == 1
    finally:
        rt.stop()


def test_in_cluster_config_only_in_a_pod_without_a_kubeconfig(make_settings):
    assert kube_settings(make_settings(kubernetes_service_host="10.100.0.1")).in_cluster
    assert not kube_settings(make_settings(kubernetes_service_host="10.100.0.1", kubeconfig="/k")).in_cluster
    assert not kube_settings(make_settings(kubernetes_service_host="")).in_cluster
