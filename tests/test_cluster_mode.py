"""Cluster mode end to end without a cluster: the portal posts the confirmed scan to a webhook on 127.0.0.1 (kept
and retried while it fails), the worker CLI runs the pipeline's steps as the Workflow's pods would (reports to
moto's S3 server), a Workflow object is served by the tests' Kubernetes API server, and the portal records the
finished scan from it and from the published findings.json."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import requests
from hera.workflows.models import Workflow
from moto.server import ThreadedMotoServer

from lib.adapters.models import QUEUED, RUNNING, SUCCEEDED
from lib.adapters.repository import finding_rows, get_scan, get_steps
from lib.engines.argo import ArgoEngine
from lib.runtime import build_runtime
from lib.services.intake import confirm, submit
from testkit.targets import http_target
from tests.webhook_server import WebhookServer

ROOT = Path(__file__).resolve().parents[1]
BUCKET = "scanboard-reports-test"
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture
def s3(monkeypatch):
    for k, v in AWS_ENV.items():
        monkeypatch.setenv(k, v)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    _MOTO[port] = server
    endpoint = f"http://{host}:{port}"
    requests.post(f"{endpoint}/moto-api/reset", timeout=10)  # moto keeps state per process: start empty
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=BUCKET)
    yield endpoint
    with contextlib.suppress(Exception):
        _MOTO.pop(port).stop()


@pytest.fixture
def webhook():
    server = WebhookServer().start()
    yield server
    server.stop()


@pytest.fixture
def argo_settings(make_settings, s3, webhook, kubeconfig):
    return make_settings(
        scanboard_mode="argo",
        scanboard_secret_key="jwt-secret-for-tests-0123456789-abcdef",
        argo_webhook_url=webhook.url,
        argo_webhook_token=webhook.token,
        kubeconfig=str(kubeconfig),
        reports_bucket=BUCKET,
        s3_endpoint_url=s3,
        scope_allow_loopback=True,
        scope_allow_private=True,
        ownership_proof="off",
        argo_sync_seconds=0.0,  # every call lists afresh: these tests change the API server between calls
    )


def worker(settings, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        **AWS_ENV,
        "SCANBOARD_MODE": "argo",
        "REPORTS_BUCKET": BUCKET,
        "S3_ENDPOINT_URL": settings.s3_endpoint_url,
        "SCOPE_ALLOW_LOOPBACK": "true",
        "SCOPE_ALLOW_PRIVATE": "true",
        "SCANBOARD_DATA_DIR": str(settings.data_dir / "pod"),
    }
    return subprocess.run(
        [sys.executable, "-m", "lib.worker", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def finished_workflow(name: str, phases: dict[str, str]) -> dict:
    """A Workflow as the controller writes it when done: a DAG root and one node per task."""
    nodes = {
        name: {
            "id": name,
            "name": name,
            "displayName": name,
            "type": "DAG",
            "phase": "Succeeded",
            "startedAt": "2026-11-22T10:00:00Z",
            "finishedAt": "2026-11-22T10:01:00Z",
            "children": [f"{name}-{t}" for t in ("portscan", "web", "tls")],
        }
    }
    after = {
        "portscan": ["report"],
        "web": ["report"],
        "tls": ["report"],
        "report": ["publish"],
        "publish": ["notify"],
        "notify": [],
    }
    for task, phase in phases.items():
        nodes[f"{name}-{task}"] = {
            "id": f"{name}-{task}",
            "name": f"{name}.{task}",
            "displayName": task,
            "boundaryID": name,
            "type": "Skipped" if phase == "Skipped" else "Pod",
            "phase": phase,
            "startedAt": "2026-11-22T10:00:00Z",
            "finishedAt": "2026-11-22T10:00:30Z",
            "children": [f"{name}-{c}" for c in after[task]],
        }
    doc = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        # labelled as the Sensor labels it (k8s/base/events/sensor.yaml): the portal lists Workflows by that label
        "metadata": {
            "name": name,
            "namespace": "scanboard",
            "labels": {"app.kubernetes.io/name": "scanboard-scan", "app.kubernetes.io/part-of": "scanboard"},
        },
        "spec": {"workflowTemplateRef": {"name": "scanboard-scan"}},
        "status": {
            "phase": "Succeeded",
            "startedAt": "2026-11-22T10:00:00Z",
            "finishedAt": "2026-11-22T10:01:00Z",
            "progress": "4/4",
            "nodes": nodes,
        },
    }
    Workflow.model_validate(doc, extra="forbid")  # the shape a real controller writes, per Argo's own models
    return doc


@pytest.mark.slow
def test_cluster_mode_lifecycle_with_webhook_outage(argo_settings, webhook, kube_api, smtp, tmp_path) -> None:
    rt = build_runtime(argo_settings)  # the loops are driven by hand below, step by step
    engine = rt.engine
    assert isinstance(engine, ArgoEngine)
    with http_target() as port:
        target = f"http://127.0.0.1:{port}/"
        out = submit(rt, target, "ana@example.com", {"web": {"depth": 1}})
        token = parse_qs(urlsplit(rt.mailer.messages()[0].link).query)["token"][0]
        assert confirm(rt, token).ok

        webhook.fail_with = 503  # the event bus is down: the scan waits, with the reason, and nothing is lost
        assert engine.deliver_due() == []
        scan = get_scan(rt.sessions, out.scan_id)
        assert scan.status == QUEUED and "503" in scan.status_reason and scan.next_attempt_at
        assert "503" in engine.progress(out.scan_id).message
        webhook.fail_with = None
        assert engine.deliver_due(now=scan.next_attempt_at) == [out.scan_id]
        [body] = webhook.received
        assert body["workflow_name"] == f"scan-{out.scan_id}"
        assert body["parameters"]["web-enabled"] == "true" and body["parameters"]["portscan-enabled"] == "false"
        assert body["parameters"]["target"] == target
        assert get_scan(rt.sessions, out.scan_id).status == RUNNING
        assert engine.deliver_due() == []  # delivered once

        # The Workflow's pods: the same worker CLI the WorkflowTemplate runs.
        work = str(tmp_path / "work")
        common = ["--scan-id", out.scan_id, "--workdir", work]
        scan_run = worker(argo_settings, "scan", "web", *common, "--target", target, "--opt", "depth=1")
        assert scan_run.returncode == 0, scan_run.stdout + scan_run.stderr
        for step in (["report", "--target", target, "--email", "ana@example.com"], ["publish"]):
            run = worker(argo_settings, step[0], *common, *step[1:])
            assert run.returncode == 0, run.stdout + run.stderr

        # While the API server has no Workflow yet the page says so; when it is there, the portal records it.
        assert "not been created" in " ".join(engine.progress(out.scan_id).notes)
        kube_api.put(
            "workflows",
            finished_workflow(
                f"scan-{out.scan_id}",
                {
                    "portscan": "Skipped",
                    "web": "Succeeded",
                    "tls": "Skipped",
                    "report": "Succeeded",
                    "publish": "Succeeded",
                    "notify": "Failed",
                },
            ),
        )
        assert engine.sync_running() == [out.scan_id]

    scan = get_scan(rt.sessions, out.scan_id)
    assert scan.status == SUCCEEDED and scan.report_key == f"reports/{out.scan_id}"
    assert {r.rule_id for r in finding_rows(rt.sessions, out.scan_id)} >= {"missing-csp", "cookie-no-httponly"}
    assert sum(scan.severity_counts.values()) == len(finding_rows(rt.sessions, out.scan_id))
    assert {s.name: s.state for s in get_steps(rt.sessions, out.scan_id)}["web"] == "succeeded"
    view = engine.progress(out.scan_id)
    assert view.finished and {n.label for n in view.nodes} >= {"web", "report", "notify"}

    # notify failed in the Workflow: the portal's mailer took the report mail over (outbox here).
    report_mail = [m for m in rt.mailer.messages() if m.kind == "report"]
    assert len(report_mail) == 1
    link = report_mail[0].link
    assert "X-Amz-Expires=604800" in link and f"reports/{out.scan_id}/report.pdf" in link
    assert requests.get(link, timeout=10).content.startswith(b"%PDF-")  # the presigned URL, over HTTP
    assert f"http://portal.test/reports?scan={out.scan_id}" in report_mail[0].body  # for when it has expired
    assert {r.scan_id for r in rt.store.list_reports()} == {out.scan_id}
    rt.db.dispose()


def test_kubernetes_api_down_is_a_banner_not_a_traceback(argo_settings, webhook, kube_api) -> None:
    rt = build_runtime(argo_settings)
    with http_target() as port:
        out = submit(rt, f"http://127.0.0.1:{port}/", "ana@example.com", {"web": {}})
        assert confirm(rt, parse_qs(urlsplit(rt.mailer.messages()[0].link).query)["token"][0]).ok
        rt.engine.deliver_due()
    kube_api.stop()
    view = rt.engine.progress(out.scan_id)
    assert "cannot be read from Kubernetes" in view.error
    assert rt.engine.sync_running() == []  # nothing lost: still running, followed again later
    assert get_scan(rt.sessions, out.scan_id).status == RUNNING
    rt.db.dispose()


@pytest.mark.slow
def test_webhook_s3_and_kubernetes_outages_lose_nothing(argo_settings, webhook, kube_api, s3, tmp_path) -> None:
    """Each real server is stopped mid-flow and started again: the scan waits, says why, and completes."""
    rt = build_runtime(argo_settings)
    engine = rt.engine
    with http_target() as port:
        target = f"http://127.0.0.1:{port}/"
        out = submit(rt, target, "ana@example.com", {"web": {}})
        assert confirm(rt, parse_qs(urlsplit(rt.mailer.messages()[0].link).query)["token"][0]).ok

        webhook.stop()  # the EventSource is gone: connection refused
        assert engine.deliver_due() == []
        assert "unreachable" in get_scan(rt.sessions, out.scan_id).status_reason
        webhook.restart()
        assert engine.deliver_due(now=get_scan(rt.sessions, out.scan_id).next_attempt_at) == [out.scan_id]

        work = str(tmp_path / "work")
        common = ["--scan-id", out.scan_id, "--workdir", work]
        assert worker(argo_settings, "scan", "web", *common, "--target", target).returncode == 0
        assert worker(argo_settings, "report", *common, "--target", target, "--email", "a@b.example").returncode == 0

    moto_port = int(s3.rsplit(":", 1)[1])
    # S3 down while the publish pod runs: it fails (Argo retries it) and succeeds once S3 is back.
    _stop_moto(moto_port)
    failed = worker(argo_settings, "publish", *common)
    assert failed.returncode == 1 and "publish: failed" in failed.stderr
    restarted = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    restarted.start()
    try:
        assert worker(argo_settings, "publish", *common).returncode == 0
        kube_api.put(
            "workflows",
            finished_workflow(
                f"scan-{out.scan_id}",
                {
                    "portscan": "Skipped",
                    "web": "Succeeded",
                    "tls": "Skipped",
                    "report": "Succeeded",
                    "publish": "Succeeded",
                    "notify": "Succeeded",
                },
            ),
        )

        kube_api.stop()  # the Kubernetes API goes away: nothing recorded, nothing lost
        assert engine.sync_running() == []
        assert "cannot be read" in engine.progress(out.scan_id).error
        kube_api.start()

        restarted.stop()  # S3 down when the portal reads findings.json
        assert engine.sync_running() == []
        scan = get_scan(rt.sessions, out.scan_id)
        assert scan.status == RUNNING and "waiting to record" in scan.status_reason
        restarted = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
        restarted.start()
        assert engine.sync_running() == [out.scan_id]
        scan = get_scan(rt.sessions, out.scan_id)
        assert scan.status == SUCCEEDED and finding_rows(rt.sessions, out.scan_id)
    finally:
        restarted.stop()
        rt.db.dispose()


_MOTO: dict[int, ThreadedMotoServer] = {}


def _stop_moto(port: int) -> None:
    _MOTO[port].stop()
