"""Cluster mode loses no scan after the webhook said 200, and follows every running scan with one list.

Driven through real servers on 127.0.0.1: the webhook listener (tests/webhook_server.py) stands in for the Argo
Events EventSource, the Kubernetes API test server (testkit/kube_api_server.py) holds the Workflows, moto's S3
server the published reports. Time is passed in (`now=`) so "120 s later" takes no wall time.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from lib.adapters.models import FAILED, PARTIAL, QUEUED, RUNNING, SUCCEEDED
from lib.adapters.repository import get_scan
from lib.engines.argo_index import SCAN_WORKFLOW_SELECTOR
from lib.engines.report import build_report
from lib.engines.steps import publish
from lib.engines.workspace import ScanMeta, StepOutcome, Workspace
from lib.runtime import build_runtime
from lib.services.intake import confirm, submit
from tests.cluster_fixtures import *  # noqa: F403 - s3, webhook, argo_settings
from tests.test_cluster_mode import finished_workflow

WORKFLOWS_PATH = "/apis/argoproj.io/v1alpha1/namespaces/scanboard/workflows"
TARGET = "http://127.0.0.1:9/"


def _confirmed_scan(rt) -> str:
    out = submit(rt, TARGET, "ana@example.com", {"web": {}})
    token = parse_qs(urlsplit(rt.mailer.messages(scan_id=out.scan_id)[0].link).query)["token"][0]
    assert confirm(rt, token).ok
    return out.scan_id


def _running_workflow(name: str) -> dict:
    wf = finished_workflow(name, {"portscan": "Skipped", "web": "Running", "tls": "Skipped"})
    wf["status"].update(phase="Running", finishedAt=None, progress="0/1")
    key, _, value = SCAN_WORKFLOW_SELECTOR.partition("=")
    assert wf["metadata"]["labels"][key] == value  # the label the portal lists by is the one the Sensor sets
    return wf


def _publish_report(rt, scan_id: str, tmp_path, web_state: str = "succeeded") -> None:
    """What the Workflow's report and publish pods leave in S3 (the same lib code they run)."""
    ws = Workspace(tmp_path / "work", scan_id)
    ws.write_meta(ScanMeta(scan_id, TARGET, "ana@example.com", {"web": {}}))
    ws.write_step(StepOutcome("web", web_state, "builtin", message="" if web_state == "succeeded" else "timed out"))
    build_report(ws, [], "")
    publish(rt.store, ws)


def test_a_workflow_that_never_appears_is_delivered_again_then_failed_with_the_reason(argo_settings, webhook, kube_api):
    rt = build_runtime(argo_settings.model_copy(update={"argo_appear_seconds": 120.0, "argo_deliveries": 3}))
    engine = rt.engine
    scan_id = _confirmed_scan(rt)
    now = get_scan(rt.sessions, scan_id).confirmed_at + timedelta(seconds=1)
    for delivery in (1, 2, 3):
        assert engine.deliver_due(now=now) == [scan_id]
        assert len(webhook.received) == delivery
        assert engine.sync_running(now=now + timedelta(seconds=60)) == []  # not late yet: waits
        assert get_scan(rt.sessions, scan_id).status == RUNNING
        now += timedelta(seconds=121)
        finished = engine.sync_running(now=now)
        if delivery < 3:
            scan = get_scan(rt.sessions, scan_id)
            assert finished == [] and scan.status == QUEUED
            assert f"did not appear within 120 s of delivery {delivery} of 3" in scan.status_reason
    # Every delivery named the same Workflow: the Sensor's create cannot start a second run.
    assert {b["workflow_name"] for b in webhook.received} == {f"scan-{scan_id}"}
    assert finished == [scan_id]
    scan = get_scan(rt.sessions, scan_id)
    assert scan.status == FAILED and scan.finished_at
    assert "never appeared: 3 deliveries" in scan.status_reason and "Sensor" in scan.status_reason
    assert engine.deliver_due(now=now + timedelta(hours=1)) == []  # failed is final: no more deliveries
    rt.db.dispose()


def test_a_workflow_that_appears_after_a_redelivery_is_followed(argo_settings, webhook, kube_api):
    rt = build_runtime(argo_settings.model_copy(update={"argo_appear_seconds": 30.0}))
    scan_id = _confirmed_scan(rt)
    now = get_scan(rt.sessions, scan_id).confirmed_at
    assert rt.engine.deliver_due(now=now) == [scan_id]
    now += timedelta(seconds=31)
    rt.engine.sync_running(now=now)
    assert get_scan(rt.sessions, scan_id).status == QUEUED
    assert rt.engine.deliver_due(now=now) == [scan_id]
    kube_api.put("workflows", _running_workflow(f"scan-{scan_id}"))
    assert rt.engine.sync_running(now=now + timedelta(hours=2)) == []  # long past any deadline: it exists
    scan = get_scan(rt.sessions, scan_id)
    assert scan.status == RUNNING and scan.heartbeat_at is not None and len(webhook.received) == 2
    rt.db.dispose()


def test_a_gone_workflow_is_finished_from_its_published_report(argo_settings, webhook, kube_api, tmp_path):
    rt = build_runtime(argo_settings)
    scan_id = _confirmed_scan(rt)
    assert rt.engine.deliver_due() == [scan_id]
    kube_api.put("workflows", _running_workflow(f"scan-{scan_id}"))
    assert rt.engine.sync_running() == []  # seen running
    _publish_report(rt, scan_id, tmp_path, web_state="failed")
    kube_api.delete("workflows", f"scan-{scan_id}", "scanboard")  # ttlStrategy (or a person) deleted it
    assert rt.engine.sync_running() == [scan_id]
    scan = get_scan(rt.sessions, scan_id)
    assert scan.status == PARTIAL and "recorded from its published report" in scan.status_reason
    assert "web" in scan.status_reason and scan.report_key == f"reports/{scan_id}"
    rt.db.dispose()


def test_a_gone_workflow_without_a_report_fails_with_the_reason(argo_settings, webhook, kube_api):
    rt = build_runtime(argo_settings)
    scan_id = _confirmed_scan(rt)
    assert rt.engine.deliver_due() == [scan_id]
    kube_api.put("workflows", _running_workflow(f"scan-{scan_id}"))
    assert rt.engine.sync_running() == []
    kube_api.delete("workflows", f"scan-{scan_id}", "scanboard")
    assert rt.engine.sync_running() == [scan_id]
    scan = get_scan(rt.sessions, scan_id)
    assert scan.status == FAILED
    assert (
        scan.status_reason
        == f"Workflow scan-{scan_id} disappeared before the portal recorded it and published no report"
    )
    rt.db.dispose()


def test_a_late_report_finishes_a_scan_whose_workflow_was_never_seen(argo_settings, webhook, kube_api, tmp_path):
    """The portal was down for the whole run and the TTL removed the Workflow: no second run, the report counts."""
    rt = build_runtime(argo_settings)
    scan_id = _confirmed_scan(rt)
    now = get_scan(rt.sessions, scan_id).confirmed_at
    assert rt.engine.deliver_due(now=now) == [scan_id]
    _publish_report(rt, scan_id, tmp_path)
    assert rt.engine.sync_running(now=now + timedelta(days=2)) == [scan_id]
    assert get_scan(rt.sessions, scan_id).status == SUCCEEDED and len(webhook.received) == 1
    rt.db.dispose()


def test_sync_and_every_viewer_share_one_list_per_interval(argo_settings, webhook, kube_api):
    rt = build_runtime(argo_settings.model_copy(update={"argo_sync_seconds": 60.0}))
    ids = [_confirmed_scan(rt) for _ in range(3)]
    assert sorted(rt.engine.deliver_due()) == sorted(ids)
    for scan_id in ids:
        kube_api.put("workflows", _running_workflow(f"scan-{scan_id}"))
    kube_api.put("workflows", {"metadata": {"name": "someone-elses", "namespace": "scanboard"}})  # not ours
    before = kube_api.request_count("/apis/")
    assert rt.engine.sync_running() == []
    for _ in range(3):  # three viewers on every scan's progress page
        for scan_id in ids:
            assert rt.engine.progress(scan_id).nodes
    assert kube_api.request_count("/apis/") - before == 1
    assert kube_api.request_counts[WORKFLOWS_PATH] == 1  # a list, not a GET per Workflow
    assert "someone-elses" not in rt.engine.index.snapshot()  # the label selector reached the API
    rt.db.dispose()
