"""The cluster engine: confirmed scans go to the Argo Events webhook, which submits Workflow `scan-<id>`; progress
and results are read back from the Kubernetes API and the report store.

Never lost: a scan stays `queued` ("waiting to start", with the last error) until the webhook accepts it, and
delivery is retried with backoff. Idempotent: the Sensor names the Workflow `scan-<id>`, so a repeated delivery
cannot start a second run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from lib.adapters.background import BackgroundLoop
from lib.adapters.kube import Kube, KubeError
from lib.adapters.mail import Mailer
from lib.adapters.models import FAILED, PARTIAL, QUEUED, RUNNING, SUCCEEDED, Scan, Step, utcnow
from lib.adapters.repository import count_scans, get_scan, save_findings
from lib.adapters.storage import ReportStore, portal_reports_url, read_findings, scan_prefix
from lib.adapters.webhook import Webhook, WebhookError
from lib.config import Settings
from lib.core.dag import DagView
from lib.core.messages import report_email
from lib.core.pipeline import SCANNERS, STEP_NAMES, WebhookPayload, workflow_parameters
from lib.core.retry import backoff
from lib.core.ttl_cache import TtlCache
from lib.engines.argo_status import WorkflowSummary, workflow_summary, workflow_view
from lib.engines.base import PoolStats
from lib.engines.step_view import view_from_steps

log = logging.getLogger(__name__)
STATUS_TTL_SECONDS = 2.0
STEP_STATE = {"error": "failed", "omitted": "skipped"}  # DAG node states the step table has no word for


def workflow_name(scan_id: str) -> str:
    return f"scan-{scan_id}"


def outcome(summary: WorkflowSummary) -> tuple[str, str]:
    """The scan's final status from its Workflow: failed when report/publish did not succeed, partial when a
    requested scanner failed, else succeeded."""
    tasks = summary.tasks
    for step in ("report", "publish"):
        if tasks.get(step) != "Succeeded":
            return FAILED, f"step {step} {str(tasks.get(step) or 'did not run').lower()}" + (
                f": {summary.message}" if summary.message else ""
            )
    failed = [s for s in SCANNERS if tasks.get(s) in ("Failed", "Error")]
    if failed:
        return PARTIAL, f"scanner(s) failed: {', '.join(failed)}"
    return SUCCEEDED, ""


class ArgoEngine:
    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        store: ReportStore,
        mailer: Mailer,
        webhook: Webhook,
        kube_factory: Callable[[], Kube],
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.store = store
        self.mailer = mailer
        self.webhook = webhook
        self._kube_factory = kube_factory
        self._kube: Kube | None = None
        self._status = TtlCache[dict](STATUS_TTL_SECONDS)
        self._loop = BackgroundLoop("argo-dispatcher", (self.deliver_due, self.sync_running), 1.0)

    # --- the Engine interface ------------------------------------------------------------------------------

    def submit(self, scan_id: str) -> None:
        self._loop.wake()

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()

    def stats(self) -> PoolStats:
        """Scans running (as Workflows) and waiting for the webhook; the pods' capacity is the cluster's."""
        return PoolStats(0, count_scans(self.sessions, RUNNING), count_scans(self.sessions, QUEUED))

    def progress(self, scan_id: str) -> DagView:
        scan = get_scan(self.sessions, scan_id)
        if scan is None:
            raise KeyError(scan_id)
        planned = view_from_steps(scan, [])
        if scan.status not in (RUNNING, SUCCEEDED, PARTIAL, FAILED) or not scan.started_at:
            if scan.status == QUEUED:
                planned.message = scan.status_reason or "waiting to start"
            return planned
        try:
            return workflow_view(self.workflow(scan_id))
        except KubeError as e:
            if e.reason == "not_found" and scan.status == RUNNING:
                planned.notes.append("Argo has accepted the scan; its Workflow has not been created yet.")
                return planned
            view = view_from_steps(scan, self._step_rows(scan_id))
            view.error = f"The scan's live status cannot be read from Kubernetes: {e.message}"
            return view

    # --- Kubernetes reads ----------------------------------------------------------------------------------

    def kube(self) -> Kube:
        if self._kube is None:
            self._kube = self._kube_factory()
        return self._kube

    def workflow(self, scan_id: str) -> dict:
        """Workflow scan-<id>, read at most once per STATUS_TTL_SECONDS whoever asks (viewers, the sync loop)."""
        name = workflow_name(scan_id)
        return self._status.get(name, lambda: self.kube().get_workflow(name))

    def _step_rows(self, scan_id: str) -> list[Step]:
        with self.sessions() as s:
            return list(s.scalars(select(Step).where(Step.scan_id == scan_id)))

    # --- the loop: deliver queued scans, follow running ones -----------------------------------------------

    def deliver_due(self, now: datetime | None = None) -> list[str]:
        """POST every queued scan whose next try is due; the ids the webhook accepted."""
        now = now or utcnow()
        with self.sessions() as s:
            due = list(
                s.scalars(
                    select(Scan)
                    .where(Scan.status == QUEUED, or_(Scan.next_attempt_at.is_(None), Scan.next_attempt_at <= now))
                    .order_by(Scan.confirmed_at)
                )
            )
        accepted = []
        for scan in due:
            payload = WebhookPayload(
                scan.id, workflow_parameters(scan.id, scan.target, scan.requester_email, scan.scanners)
            )
            attempts = scan.dispatch_attempts + 1
            try:
                self.webhook.deliver(payload)
            except WebhookError as e:
                delay = backoff(attempts, self.settings.retry_seconds)
                log.warning("scan %s not delivered (attempt %s): %s", scan.id, attempts, e)
                with self.sessions.begin() as s:
                    s.execute(
                        update(Scan)
                        .where(Scan.id == scan.id, Scan.status == QUEUED)
                        .values(
                            dispatch_attempts=attempts,
                            next_attempt_at=now + delay,
                            status_reason=f"waiting to start: {e} (attempt {attempts}; next try in {delay.seconds} s)",
                        )
                    )
                continue
            with self.sessions.begin() as s:
                s.execute(
                    update(Scan)
                    .where(Scan.id == scan.id, Scan.status == QUEUED)
                    .values(
                        status=RUNNING,
                        started_at=utcnow(),
                        dispatch_attempts=attempts,
                        next_attempt_at=None,
                        status_reason=f"submitted to Argo as Workflow {workflow_name(scan.id)}",
                    )
                )
            accepted.append(scan.id)
        return accepted

    def sync_running(self) -> list[str]:
        """Record every running scan whose Workflow has finished; the ids recorded."""
        with self.sessions() as s:
            running = list(s.scalars(select(Scan.id).where(Scan.status == RUNNING)))
        done = []
        for scan_id in running:
            try:
                wf = self.workflow(scan_id)
            except KubeError as e:
                if e.reason != "not_found":
                    log.warning("scan %s: status not readable: %s", scan_id, e.message)
                continue
            summary = workflow_summary(wf)
            if not summary.finished:
                continue
            try:
                self.record_finished(scan_id, wf, summary)
            except Exception as e:  # noqa: BLE001 - e.g. S3 unreachable: stays running, recorded next time
                log.warning("scan %s finished but not recorded yet: %s: %s", scan_id, type(e).__name__, e)
                with self.sessions.begin() as s:
                    s.execute(
                        update(Scan)
                        .where(Scan.id == scan_id, Scan.status == RUNNING)
                        .values(status_reason=f"finished; waiting to record the results: {type(e).__name__}")
                    )
                continue
            done.append(scan_id)
        return done

    def record_finished(self, scan_id: str, wf: dict, summary: WorkflowSummary) -> None:
        """Update the scan from its finished Workflow and published findings.json, so history works in both
        modes; if the Workflow could not mail the report, the portal's mailer takes it over (stored, retried)."""
        status, reason = outcome(summary)
        doc = read_findings(self.store, scan_id)
        if doc is not None:
            save_findings(self.sessions, scan_id, doc)
        view = workflow_view(wf)
        with self.sessions.begin() as s:
            scan = s.get_one(Scan, scan_id)
            for node in view.nodes:
                if node.label in STEP_NAMES and node.parent == view.root:
                    row = s.scalar(select(Step).where(Step.scan_id == scan_id, Step.name == node.label))
                    if row is None:
                        row = Step(scan_id=scan_id, name=node.label)
                        s.add(row)
                    row.state = STEP_STATE.get(node.state, node.state)
                    row.started_at, row.finished_at, row.message = node.started_at, node.finished_at, node.message
            scan.status, scan.status_reason = status, reason
            scan.started_at = summary.started_at or scan.started_at
            scan.finished_at = summary.finished_at or utcnow()
            scan.report_key = scan_prefix(scan_id) if doc is not None else ""
            email, target = scan.requester_email, scan.target
        if doc is not None and summary.tasks.get("notify") != "Succeeded":
            link = self.store.link(scan_id, "report.pdf")
            subject, body = report_email(
                target, scan_id, link, doc.get("counts", {}), portal_reports_url(self.settings.public_base_url, scan_id)
            )
            self.mailer.enqueue("report", email, subject, body, link=link, scan_id=scan_id)
