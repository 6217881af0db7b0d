"""lib.adapters.kube reads through the official client from the Kubernetes API test server on 127.0.0.1.

No patched client: a generated kubeconfig points the real `kubernetes` package at testkit/kube_api_server.py,
so selectors, namespaces, watch streaming and error answers go over HTTP as they would against EKS.
"""

from __future__ import annotations

import time

import pytest

from lib.adapters.kube import KubeError, KubeSettings, connect

WF_LABEL = "workflows.argoproj.io/workflow"


def workflow(name: str, phase: str = "Running", namespace: str = "scanboard") -> dict:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"workflowTemplateRef": {"name": "scanboard-scan"}},
        "status": {"phase": phase, "progress": "0/3"},
    }


def pod(
    name: str, namespace: str = "scanboard", labels: dict | None = None, phase: str = "Running", node: str = ""
) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": {"nodeName": node, "containers": [{"name": "main", "image": "x"}]},
        "status": {"phase": phase},
    }


@pytest.fixture
def kube(kubeconfig):
    k = connect(KubeSettings(kubeconfig=str(kubeconfig), connect_timeout_s=1.0, read_timeout_s=2.0))
    yield k
    k.close()


def test_get_workflow_in_the_namespace_of_the_kubeconfig(kube_api, kube):
    kube_api.put("workflows", workflow("scan-abc"))
    kube_api.put("workflows", workflow("scan-abc", phase="Failed", namespace="elsewhere"))
    assert kube.namespace == "scanboard"
    wf = kube.get_workflow("scan-abc")
    assert wf["metadata"]["namespace"] == "scanboard" and wf["status"]["phase"] == "Running"
    assert kube.get_workflow("scan-abc", namespace="elsewhere")["status"]["phase"] == "Failed"
    assert kube_api.request_counts["/apis/argoproj.io/v1alpha1/namespaces/scanboard/workflows/scan-abc"] == 1


def test_namespace_comes_from_the_kubeconfig_context(kube_api, tmp_path):
    path = kube_api.write_kubeconfig(tmp_path / "kc", namespace="team-a")
    with connect(KubeSettings(kubeconfig=str(path))) as k:
        assert k.namespace == "team-a"
    with connect(KubeSettings(kubeconfig=str(path), namespace="scanboard")) as k:
        assert k.namespace == "scanboard"


def test_list_pods_by_the_workflow_label_returns_only_that_scans_pods(kube_api, kube):
    kube_api.put_many(
        "pods",
        [
            pod("scan-abc-portscan-1", labels={WF_LABEL: "scan-abc"}),
            pod("scan-abc-web-2", labels={WF_LABEL: "scan-abc"}, phase="Pending"),
            pod("scan-def-tls-3", labels={WF_LABEL: "scan-def"}),
            pod("scanboard-portal-0", labels={"app": "scanboard-portal"}),
            pod("scan-abc-other-ns", namespace="other", labels={WF_LABEL: "scan-abc"}),
        ],
    )
    names = sorted(p["metadata"]["name"] for p in kube.list_pods(f"{WF_LABEL}=scan-abc"))
    assert names == ["scan-abc-portscan-1", "scan-abc-web-2"]
    assert kube_api.request_counts["/api/v1/namespaces/scanboard/pods"] == 1
    # set-based and inequality selectors, as the cluster page uses them
    assert len(kube.list_pods(f"{WF_LABEL} in (scan-abc,scan-def)")) == 3
    assert [p["metadata"]["name"] for p in kube.list_pods(f"{WF_LABEL} notin (scan-abc),{WF_LABEL}")] == [
        "scan-def-tls-3"
    ]
    assert sorted(p["metadata"]["name"] for p in kube.list_pods(f"{WF_LABEL}!=scan-abc")) == [
        "scan-def-tls-3",
        "scanboard-portal-0",
    ]
    # field selector across all namespaces: pending pods anywhere
    pending = kube.list_pods(field_selector="status.phase=Pending", all_namespaces=True)
    assert [p["metadata"]["name"] for p in pending] == ["scan-abc-web-2"]
    everywhere = kube.list_pods(f"{WF_LABEL}=scan-abc", field_selector="status.phase!=Pending", all_namespaces=True)
    assert sorted(p["metadata"]["name"] for p in everywhere) == ["scan-abc-other-ns", "scan-abc-portscan-1"]
    assert kube_api.request_counts["/api/v1/pods"] == 2


def test_a_malformed_selector_is_a_readable_error(kube):
    with pytest.raises(KubeError) as e:
        kube.list_pods("a in (b")
    assert e.value.status == 400 and "unable to parse" in e.value.message


def test_nodes_events_and_the_autoscaler_configmap(kube_api, kube):
    kube_api.put_many(
        "nodes",
        [
            {
                "metadata": {
                    "name": "ip-10-0-1-1",
                    "labels": {
                        "role": "general",
                        "eks.amazonaws.com/nodegroup": "general",
                        "eks.amazonaws.com/capacityType": "ON_DEMAND",
                    },
                }
            },
            {
                "metadata": {
                    "name": "ip-10-0-2-1",
                    "labels": {
                        "role": "spot",
                        "eks.amazonaws.com/nodegroup": "spot",
                        "eks.amazonaws.com/capacityType": "SPOT",
                    },
                }
            },
        ],
    )
    kube_api.put_many(
        "events",
        [
            {
                "metadata": {"name": "ev1", "namespace": "kube-system"},
                "reason": "ScaleDown",
                "source": {"component": "cluster-autoscaler"},
                "involvedObject": {"kind": "Node", "name": "ip-10-0-2-1"},
            },
            {
                "metadata": {"name": "ev2", "namespace": "scanboard"},
                "reason": "TriggeredScaleUp",
                "source": {"component": "cluster-autoscaler"},
                "involvedObject": {"kind": "Pod", "name": "scan-abc-web-2"},
            },
            {
                "metadata": {"name": "ev3", "namespace": "scanboard"},
                "reason": "Scheduled",
                "source": {"component": "default-scheduler"},
                "involvedObject": {"kind": "Pod", "name": "scan-abc-web-2"},
            },
        ],
    )
    kube_api.put(
        "configmaps",
        {
            "metadata": {"name": "cluster-autoscaler-status", "namespace": "kube-system"},
            "data": {"status": "Cluster-autoscaler status at 2026-01-01: Healthy"},
        },
    )
    assert [n["metadata"]["name"] for n in kube.list_nodes()] == ["ip-10-0-1-1", "ip-10-0-2-1"]
    assert [n["metadata"]["name"] for n in kube.list_nodes("eks.amazonaws.com/capacityType=SPOT")] == ["ip-10-0-2-1"]
    scale = kube.list_events("source=cluster-autoscaler", all_namespaces=True)
    assert sorted(e["reason"] for e in scale) == ["ScaleDown", "TriggeredScaleUp"]
    assert [e["reason"] for e in kube.list_events("reason in (TriggeredScaleUp,NotTriggerScaleUp)")] == [
        "TriggeredScaleUp"
    ]
    assert [e["reason"] for e in kube.list_events(namespace="kube-system")] == ["ScaleDown"]
    cm = kube.get_configmap("cluster-autoscaler-status", namespace="kube-system")
    assert cm["data"]["status"].endswith("Healthy")
    with pytest.raises(KubeError) as e:
        kube.get_configmap("cluster-autoscaler-status")  # not in scanboard
    assert e.value.reason == "not_found"


def test_wrong_token_is_401_unauthorized(kube_api, tmp_path):
    path = kube_api.write_kubeconfig(tmp_path / "kc", token="expired-token")
    with connect(KubeSettings(kubeconfig=str(path))) as k, pytest.raises(KubeError) as e:
        k.get_workflow("scan-abc")
    assert (e.value.reason, e.value.status) == ("unauthorized", 401)
    assert "rejected the portal's credentials (401 Unauthorized)" in str(e.value)
    assert "expired-token" not in str(e.value)  # the secret never reaches a banner or a log


def test_rbac_denial_is_403_forbidden_with_the_api_reason(kube_api, kube):
    kube_api.put("workflows", workflow("scan-abc"))
    kube_api.forbidden = {"workflows"}
    with pytest.raises(KubeError) as e:
        kube.get_workflow("scan-abc")
    assert (e.value.reason, e.value.status) == ("forbidden", 403)
    assert 'cannot get resource "workflows" in API group "argoproj.io"' in e.value.message
    assert "RBAC" in e.value.message
    kube_api.forbidden = set()
    assert kube.get_workflow("scan-abc")["metadata"]["name"] == "scan-abc"


def test_missing_workflow_is_404_not_found(kube):
    with pytest.raises(KubeError) as e:
        kube.get_workflow("scan-0123456789ab")
    assert (e.value.reason, e.value.status) == ("not_found", 404)
    assert 'workflows.argoproj.io "scan-0123456789ab" not found' in e.value.message
    assert 'namespace "scanboard"' in e.value.message


def test_api_gone_is_connection_refused_and_recovers_on_restart(kube_api, kube):
    kube_api.put("workflows", workflow("scan-abc"))
    assert kube.get_workflow("scan-abc")  # a pooled keep-alive connection now exists
    kube_api.stop()
    with pytest.raises(KubeError) as e:
        kube.get_workflow("scan-abc")
    assert e.value.reason == "unreachable" and e.value.status is None
    assert kube_api.url in e.value.message and "connection refused" in e.value.message
    kube_api.start()
    assert kube.get_workflow("scan-abc")["metadata"]["name"] == "scan-abc"


def test_slow_api_is_a_timeout(kube_api, kubeconfig):
    kube_api.delay_s = 1.5
    with connect(KubeSettings(kubeconfig=str(kubeconfig), read_timeout_s=0.3)) as k:
        t = time.monotonic()
        with pytest.raises(KubeError) as e:
            k.list_nodes()
        assert time.monotonic() - t < 1.4  # bounded by the read timeout, not the server
    assert e.value.reason == "timeout" and "did not answer in time" in e.value.message


def test_missing_kubeconfig_is_a_config_error(tmp_path):
    with pytest.raises(KubeError) as e:
        connect(KubeSettings(kubeconfig=str(tmp_path / "nope"), in_cluster=False))
    assert e.value.reason == "config" and "nope" in e.value.message


def test_watch_streams_modified_and_deleted_events(kube_api, kube):
    kube_api.put("workflows", workflow("scan-abc"))
    kube_api.put("workflows", workflow("scan-def"))  # another workflow: filtered out by the field selector
    seen = []
    t = time.monotonic()
    for etype, obj in kube.watch_workflow("scan-abc", timeout_s=10):
        seen.append((etype, obj["metadata"]["name"], obj["status"]["phase"]))
        if etype == "ADDED":
            kube_api.put("workflows", workflow("scan-def", phase="Failed"))
            kube_api.put("workflows", workflow("scan-abc", phase="Succeeded"))
        elif etype == "MODIFIED":
            kube_api.delete("workflows", "scan-abc", "scanboard")
        else:
            break
    assert seen == [
        ("ADDED", "scan-abc", "Running"),
        ("MODIFIED", "scan-abc", "Succeeded"),
        ("DELETED", "scan-abc", "Succeeded"),
    ]
    assert time.monotonic() - t < 5


def test_watch_closes_at_its_timeout(kube_api, kube):
    kube_api.put("workflows", workflow("scan-abc"))
    t = time.monotonic()
    events = [etype for etype, _ in kube.watch_workflow("scan-abc", timeout_s=1)]
    assert events == ["ADDED"] and 0.9 <= time.monotonic() - t < 4


def test_watch_on_a_forbidden_resource_raises_the_one_error(kube_api, kube):
    kube_api.forbidden = {"workflows"}
    with pytest.raises(KubeError) as e:
        list(kube.watch_workflow("scan-abc", timeout_s=1))
    assert e.value.reason == "forbidden" and "cannot watch" in e.value.message
