"""Two portal replicas on one PostgreSQL in argo mode, as the prod Deployment runs them: scans are confirmed
while both run, one replica is killed (SIGKILL, no clean hand-over) mid-way, and the survivor finishes the work.
What the outside world received is counted: webhook deliveries (the Argo Events listener), report mails
(stored messages), cluster samples per period."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from lib.adapters.models import FINAL_STATUSES, ClusterSample, Message, Scan
from lib.runtime import build_runtime
from lib.services.intake import confirm, submit
from tests.conftest import wait_until
from tests.postgres_server import postgres
from tests.test_cluster_mode import AWS_ENV, BUCKET, argo_settings, finished_workflow, s3, webhook  # noqa: F401 - fixtures

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
SCANS = 24
SAMPLE_S = 0.5
PHASES = {k: "Succeeded" for k in ("portscan", "web", "tls", "report", "publish")} | {"notify": "Failed"}


def replica(env: dict[str, str], data_dir: Path) -> subprocess.Popen:
    data_dir.mkdir(parents=True)
    log = open(data_dir.parent / f"{data_dir.name}.log", "wb")
    return subprocess.Popen(
        [sys.executable, "-m", "tests.replica"],
        cwd=ROOT,
        env={**os.environ, **env, "SCANBOARD_DATA_DIR": str(data_dir)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )


@contextlib.contextmanager
def sensor(listener, kube_api, s3_endpoint: str):
    """What Argo Events and Argo Workflows do with an accepted event: a Workflow scan-<id> that publishes
    findings.json and finishes (its notify step failed, so the portal must mail the report itself)."""
    bucket = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    stop = threading.Event()

    def run() -> None:
        seen = 0
        while not stop.wait(0.2):
            for body in listener.received[seen:]:
                scan_id = body["workflow_name"].removeprefix("scan-")
                doc = {"findings": [], "fixed": [], "counts": {}, "diff": {}, "previous_scan": ""}
                bucket.put_object(Bucket=BUCKET, Key=f"reports/{scan_id}/findings.json", Body=json.dumps(doc))
                kube_api.put("workflows", finished_workflow(body["workflow_name"], PHASES))
                seen += 1

    t = threading.Thread(target=run, daemon=True)
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join(timeout=5)


def confirm_scans(client, first: int, n: int) -> list[str]:
    ids = []
    for i in range(first, first + n):
        out = submit(client, "http://127.0.0.1:9/", f"user{i}@example.com", {"web": {}})
        assert out.ok, out.errors
        link = next(m.link for m in client.mailer.messages(scan_id=out.scan_id) if m.kind == "confirm")
        assert confirm(client, parse_qs(urlsplit(link).query)["token"][0]).ok
        ids.append(out.scan_id)
    return ids


def test_two_replicas_one_killed_nothing_lost_nothing_doubled(argo_settings, webhook, kube_api, s3, tmp_path):  # noqa: F811
    with postgres() as url:
        env = {
            **AWS_ENV,
            "DATABASE_URL": url,
            "SCANBOARD_MODE": "argo",
            "SCANBOARD_SECRET_KEY": "jwt-secret-for-tests-0123456789-abcdef",
            "ARGO_WEBHOOK_URL": webhook.url,
            "ARGO_WEBHOOK_TOKEN": webhook.token,
            "KUBECONFIG": argo_settings.kubeconfig,
            "REPORTS_BUCKET": BUCKET,
            "S3_ENDPOINT_URL": s3,
            "PUBLIC_BASE_URL": "http://portal.test",
            "SAMPLE_SECONDS": str(SAMPLE_S),
            "LEADER_LEASE_SECONDS": "2",
            "RETRY_SECONDS": "0.5",
        }
        client = build_runtime(argo_settings.model_copy(update={"database_url": SecretStr(url)}))  # requests, no loops
        a, b = replica(env, tmp_path / "a"), replica(env, tmp_path / "b")
        try:
            with sensor(webhook, kube_api, s3):
                ids = confirm_scans(client, 0, SCANS // 2)
                wait_until(lambda: len(webhook.received) >= SCANS // 4, timeout=60)
                a.kill()  # mid-way: a crash, whichever replica was leading
                a.wait(timeout=10)
                ids += confirm_scans(client, SCANS // 2, SCANS - SCANS // 2)

                def all_final() -> bool:
                    with client.sessions() as s:
                        return set(s.scalars(select(Scan.status).where(Scan.id.in_(ids)))) <= FINAL_STATUSES

                wait_until(all_final, timeout=120)
        finally:
            for p in (a, b):
                if p.poll() is None:
                    p.terminate()
                    p.wait(timeout=20)
        with client.sessions() as s:
            reports = Counter(s.scalars(select(Message.scan_id).where(Message.kind == "report")))
            taken = sorted(set(s.scalars(select(ClusterSample.taken_at))))
        client.db.dispose()
    deliveries = Counter(b["workflow_name"] for b in webhook.received)
    assert set(deliveries) == {f"scan-{i}" for i in ids}
    # A replica POSTs one scan at a time: killed between the POST and recording it, that one scan is delivered
    # again by the survivor (harmless: the Sensor names the Workflow scan-<id>, a second one cannot start).
    assert sum(n - 1 for n in deliveries.values()) <= 1
    assert reports == Counter(ids)  # exactly one report mail per scan
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(taken)]
    assert len(taken) >= 3 and min(gaps) >= SAMPLE_S / 2  # one sample per period, never two replicas' at once
