"""The cluster engine: confirmed scans go to the Argo Events webhook, which submits Workflow `scan-<id>`; progress
and results are read back from the Kubernetes API and the report store.

Never lost: a scan stays `queued` ("waiting to start", with the last error) until the webhook accepts it, and
delivery is retried with backoff. Idempotent: the Sensor names the Workflow `scan-<id>`, so a repeated delivery
cannot start a second run. An accepted scan whose Workflow does not appear in time (event dropped, Sensor down,
filter mismatch) is delivered again, and failed with the reason after `argo_deliveries` deliveries; a Workflow that
disappears before the portal recorded it (ttlStrategy, someone deleting it) is finished from its published
findings.json, or failed with the reason. Running scans are followed through one shared list per interval
(lib.engines.argo_index), not a GET per scan.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from lib.adapters.background import BackgroundLoop
from lib.adapters.kube import Kube, KubeError
from lib.adapters.lease import Lease
from lib.adapters.mail import Mailer
from lib.adapters.models import FAILED, PARTIAL, QUEUED, RUNNING, SUCCEEDED, Scan, Step, utcnow
from lib.adapters.repository import count_scans, get_scan, save_findings
from lib.adapters.storage import ReportStore, portal_reports_url, read_findings, scan_prefix
from lib.adapters.triage_store import marks_for_host
from lib.adapters.webhook import Webhook, WebhookError
from lib.config import Settings
from lib.core.dag import DagView
from lib.core.messages import report_email
from lib.core.pipeline import SCANNERS, STEP_NAMES, WebhookPayload, workflow_parameters
from lib.core.retry import backoff
from lib.core.triage import retriage_document
from lib.engines.argo_index import WorkflowIndex
from lib.engines.argo_status import WorkflowSummary, workflow_summary, workflow_view
from lib.engines.base import PoolStats
from lib.engines.step_view import view_from_steps

log = logging.getLogger(__name__)
CLAIM_MARGIN = timedelta(seconds=5)  # a claimed delivery whose replica died is retried after the POST's timeout + this
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
        lease: Lease | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.store = store
        self.mailer = mailer
        self.webhook = webhook
        self._kube_factory = kube_factory
        self._kube: Kube | None = None
        self.index = WorkflowIndex(self.kube, settings.argo_sync_seconds)
        self.lease = lease  # with replicas: only the lease holder delivers and records (None: always)
        steps = (self.deliver_due, self.sync_running)
        self._loop = BackgroundLoop("argo-dispatcher", steps, 1.0, only_while=lease.hold if lease else None)

    # --- the Engine interface ------------------------------------------------------------------------------

    def submit(self, scan_id: str) -> None:
        self._loop.wake()

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()
        if self.lease is not None:
            self.lease.release()

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
        """Workflow scan-<id> from the interval's one list of scan Workflows (shared by viewers and the loop)."""
        return self.index.get(workflow_name(scan_id))

    def _step_rows(self, scan_id: str) -> list[Step]:
        with self.sessions() as s:
            return list(s.scalars(select(Step).where(Step.scan_id == scan_id)))

    # --- the loop: deliver queued scans, follow running ones -----------------------------------------------

    def _claim_delivery(self, scan_id: str, now: datetime) -> bool:
        """Take this delivery attempt (one UPDATE): a replica that lost the lease mid-pass cannot POST it too."""
        with self.sessions.begin() as s:
            res = s.execute(
                update(Scan)
                .where(
                    Scan.id == scan_id,
                    Scan.status == QUEUED,
                    or_(Scan.next_attempt_at.is_(None), Scan.next_attempt_at <= now),
                )
                .values(next_attempt_at=now + timedelta(seconds=self.webhook.timeout) + CLAIM_MARGIN)
            )
            return res.rowcount == 1  # type: ignore[attr-defined]

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
            if not self._claim_delivery(scan.id, now):
                continue
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
                        started_at=scan.started_at or utcnow(),
                        dispatch_attempts=attempts,
                        deliveries=scan.deliveries + 1,
                        # RUNNING: the time by which the Workflow must exist, else it is delivered again
                        next_attempt_at=now + timedelta(seconds=self.settings.argo_appear_seconds),
                        status_reason=f"submitted to Argo as Workflow {workflow_name(scan.id)}",
                    )
                )
            accepted.append(scan.id)
        return accepted

    def sync_running(self, now: datetime | None = None) -> list[str]:
        """Follow every running scan from one list of the scan Workflows: record the finished ones, deliver again
        or fail those whose Workflow never appeared, finish or fail those whose Workflow is gone; the ids that
        reached a final status."""
        now = now or utcnow()
        with self.sessions() as s:
            running = list(
                s.execute(
                    select(Scan.id, Scan.heartbeat_at, Scan.next_attempt_at, Scan.started_at).where(
                        Scan.status == RUNNING
                    )
                )
            )
        if not running:
            return []
        try:
            workflows = self.index.snapshot()
        except KubeError as e:
            log.warning("running scans not followed: %s", e.message)
            return []
        done = []
        appear = timedelta(seconds=self.settings.argo_appear_seconds)
        for scan_id, seen_at, deadline, started_at in running:
            # rows delivered before deadlines were kept: the deadline counts from the start
            deadline = deadline or (started_at + appear if started_at else None)
            wf = workflows.get(workflow_name(scan_id))
            try:
                if wf is not None:
                    finished = self._follow(scan_id, wf, seen_at, now)
                else:
                    finished = self._missing(scan_id, seen_at, deadline, now)
            except Exception as e:  # noqa: BLE001 - e.g. S3 unreachable: stays running, recorded next time
                log.warning("scan %s finished but not recorded yet: %s: %s", scan_id, type(e).__name__, e)
                self._set_running_reason(scan_id, f"finished; waiting to record the results: {type(e).__name__}")
                continue
            if finished:
                done.append(scan_id)
        return done

    def _follow(self, scan_id: str, wf: dict, seen_at: datetime | None, now: datetime) -> bool:
        if seen_at is None:  # first sight: from now on, its disappearance means "gone", not "never created"
            with self.sessions.begin() as s:
                s.execute(update(Scan).where(Scan.id == scan_id, Scan.status == RUNNING).values(heartbeat_at=now))
        summary = workflow_summary(wf)
        if not summary.finished:
            return False
        self.record_finished(scan_id, wf, summary)
        return True

    def _missing(self, scan_id: str, seen_at: datetime | None, deadline: datetime | None, now: datetime) -> bool:
        """No Workflow scan-<id>. Gone after it was seen, or not there by its deadline: its published
        findings.json finishes the scan; else it fails (gone) or is delivered again (never appeared)."""
        name = workflow_name(scan_id)
        overdue = deadline is not None and now >= _aware(deadline)
        if seen_at is None and not overdue:
            return False  # the Sensor may still be creating it
        doc = read_findings(self.store, scan_id)
        if doc is not None:
            self.record_from_findings(scan_id, doc, f"Workflow {name} is gone; recorded from its published report")
            return True
        if seen_at is not None:
            return self._fail(
                scan_id, f"Workflow {name} disappeared before the portal recorded it and published no report", now
            )
        return self._redeliver_or_fail(scan_id, now)

    def _redeliver_or_fail(self, scan_id: str, now: datetime) -> bool:
        wait, tries = self.settings.argo_appear_seconds, self.settings.argo_deliveries
        with self.sessions() as s:
            deliveries = s.scalar(select(Scan.deliveries).where(Scan.id == scan_id)) or 0
        name = workflow_name(scan_id)
        if deliveries >= tries:
            return self._fail(
                scan_id,
                f"Workflow {name} never appeared: {deliveries} deliveries accepted by the webhook, each waited "
                f"{wait:g} s (is the Sensor running, and does its filter match?)",
                now,
            )
        log.warning(
            "scan %s: Workflow %s not created %g s after delivery %s; delivering again", scan_id, name, wait, deliveries
        )
        with self.sessions.begin() as s:
            s.execute(
                update(Scan)
                .where(Scan.id == scan_id, Scan.status == RUNNING)
                .values(
                    status=QUEUED,
                    next_attempt_at=None,
                    status_reason=f"waiting to start: Workflow {name} did not appear within {wait:g} s of delivery "
                    f"{deliveries} of {tries}; delivering again",
                )
            )
        return False

    def _fail(self, scan_id: str, reason: str, now: datetime) -> bool:
        log.warning("scan %s failed: %s", scan_id, reason)
        with self.sessions.begin() as s:
            s.execute(
                update(Scan)
                .where(Scan.id == scan_id, Scan.status == RUNNING)
                .values(status=FAILED, status_reason=reason, finished_at=now, next_attempt_at=None)
            )
        return True

    def _set_running_reason(self, scan_id: str, reason: str) -> None:
        with self.sessions.begin() as s:
            s.execute(update(Scan).where(Scan.id == scan_id, Scan.status == RUNNING).values(status_reason=reason))

    def record_from_findings(self, scan_id: str, doc: dict, note: str) -> None:
        """Finish a scan from its published findings.json alone (its Workflow is gone): the report was published,
        so report and publish succeeded; a failed scanner makes it partial."""
        save_findings(self.sessions, scan_id, doc)
        failed = [str(st.get("step")) for st in doc.get("steps", []) if st.get("state") == "failed"]
        status, reason = (PARTIAL, f"scanner(s) failed: {', '.join(failed)}") if failed else (SUCCEEDED, "")
        with self.sessions.begin() as s:
            scan = s.get(Scan, scan_id)
            if scan is None:  # deleted meanwhile (retention): nothing to record
                return
            scan.status, scan.status_reason = status, f"{note}; {reason}" if reason else note
            scan.finished_at = scan.finished_at or utcnow()
            scan.report_key = scan_prefix(scan_id)

    def record_finished(self, scan_id: str, wf: dict, summary: WorkflowSummary) -> None:
        """Update the scan from its finished Workflow and published findings.json, so history works in both
        modes; if the Workflow could not mail the report, the portal's mailer takes it over (stored, retried)."""
        status, reason = outcome(summary)
        doc = read_findings(self.store, scan_id)
        if doc is not None:
            host = str((doc.get("scan") or {}).get("target", ""))
            marks = marks_for_host(self.sessions, urlsplit(host).hostname or "")
            save_findings(self.sessions, scan_id, retriage_document(doc, marks, utcnow()))
        view = workflow_view(wf)
        with self.sessions.begin() as s:
            scan = s.get_one(Scan, scan_id, with_for_update=True)  # replicas: one records, in turn
            if scan.status != RUNNING:
                return  # recorded already (by another replica): its mail is stored once anyway
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


def _aware(dt: datetime) -> datetime:
    """SQLite hands datetimes back naive; they were stored in UTC."""
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
