"""The embedded engine: confirmed scans run in a bounded worker pool inside the app's process.

The queue is the database (scans with status `queued`), so nothing is lost on a restart: a dispatcher claims
queued scans atomically, runs their pipeline, and records every step. A scan whose heartbeat stops (the process
died) is resumed by the next dispatcher: its finished steps are kept and the rest run again.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import timedelta
from typing import cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from lib.adapters.background import BackgroundLoop
from lib.adapters.mail import Mailer
from lib.adapters.models import FAILED, PARTIAL, QUEUED, RUNNING, SUCCEEDED, Scan, Step, utcnow
from lib.adapters.repository import (
    append_step_log,
    count_scans,
    ensure_steps,
    finish_scan,
    get_scan,
    get_steps,
    previous_scan_findings,
    save_findings,
    update_step,
)
from lib.adapters.storage import ReportStore
from lib.adapters.triage_store import marks_for_host
from lib.config import Settings
from lib.core.dag import DagView
from lib.core.pipeline import blocked_steps, ready_steps, step_spec
from lib.engines.base import PoolStats
from lib.engines.report import build_report
from lib.engines.step_view import view_from_steps
from lib.engines.steps import notify, publish, run_scanner
from lib.engines.workspace import ScanMeta, Workspace

log = logging.getLogger(__name__)
MAX_RESUMES = 3
HEARTBEAT_SECONDS = 2.0


class LocalEngine:
    def __init__(self, settings: Settings, sessions: sessionmaker[Session], store: ReportStore, mailer: Mailer) -> None:
        self.settings = settings
        self.sessions = sessions
        self.store = store
        self.mailer = mailer
        self.workers = settings.scan_workers
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="scan")
        self._running: set[str] = set()
        self._lock = threading.Lock()
        self._loop = BackgroundLoop("scan-dispatcher", self.dispatch, 1.0)

    # --- the Engine interface ------------------------------------------------------------------------------

    def submit(self, scan_id: str) -> None:
        self._loop.wake()  # the scan is already queued in the database; the dispatcher claims it

    def progress(self, scan_id: str) -> DagView:
        scan = get_scan(self.sessions, scan_id)
        if scan is None:
            raise KeyError(scan_id)
        return view_from_steps(scan, get_steps(self.sessions, scan_id))

    def start(self) -> None:
        self._loop.start()

    def stop(self, wait_for_scans: bool = False) -> None:
        self._loop.stop()
        self._pool.shutdown(wait=wait_for_scans, cancel_futures=True)

    def stats(self) -> PoolStats:
        with self._lock:
            busy = len(self._running)
        return PoolStats(self.workers, busy, count_scans(self.sessions, QUEUED))

    # --- dispatching ---------------------------------------------------------------------------------------

    def dispatch(self) -> None:
        """One dispatcher pass: resume stale scans, then claim queued ones while a worker is free."""
        self.resume_stale()
        while self._has_free_worker() and (scan_id := self._claim_next()) is not None:
            with self._lock:
                self._running.add(scan_id)
            self._pool.submit(self._run_guarded, scan_id)

    def _has_free_worker(self) -> bool:
        with self._lock:
            return len(self._running) < self.workers

    def _claim_next(self) -> str | None:
        """Atomically move the oldest queued scan to running; None when there is none (or another won it)."""
        with self.sessions.begin() as s:
            scan_id = s.scalar(select(Scan.id).where(Scan.status == QUEUED).order_by(Scan.confirmed_at).limit(1))
            if scan_id is None:
                return None
            now = utcnow()
            res = cast(
                CursorResult,
                s.execute(
                    update(Scan)
                    .where(Scan.id == scan_id, Scan.status == QUEUED)
                    .values(
                        status=RUNNING,
                        started_at=func.coalesce(Scan.started_at, now),
                        heartbeat_at=now,
                        status_reason="",
                        dispatch_attempts=Scan.dispatch_attempts + 1,
                    )
                ),
            )
            return scan_id if res.rowcount == 1 else None

    def resume_stale(self) -> list[str]:
        """Scans left running by a process that died: queue them again, or fail them after MAX_RESUMES."""
        cutoff = utcnow() - timedelta(seconds=self.settings.stale_scan_seconds)
        with self._lock:
            mine = set(self._running)
        resumed = []
        with self.sessions.begin() as s:
            stale = s.scalars(select(Scan).where(Scan.status == RUNNING, Scan.heartbeat_at < cutoff)).all()
            for scan in stale:
                if scan.id in mine:
                    continue
                s.execute(
                    update(Step)
                    .where(Step.scan_id == scan.id, Step.state == "running")
                    .values(state="pending", message="interrupted: the app stopped while this step ran")
                )
                if scan.dispatch_attempts >= MAX_RESUMES:
                    scan.status, scan.finished_at = FAILED, utcnow()
                    scan.status_reason = f"interrupted {scan.dispatch_attempts} times; given up"
                else:
                    scan.status, scan.status_reason = QUEUED, "resumed after the app restarted"
                    resumed.append(scan.id)
        if resumed:
            log.warning("resuming scans interrupted by a restart: %s", resumed)
        return resumed

    def _run_guarded(self, scan_id: str) -> None:
        try:
            self.run_scan(scan_id)
        except Exception as e:
            if self._loop.stopping:  # shutting down: left running, the next start resumes it
                log.info("scan %s interrupted by shutdown; it will be resumed", scan_id)
                return
            log.exception("scan %s failed", scan_id)
            finish_scan(self.sessions, scan_id, FAILED, f"internal error: {type(e).__name__}: {e}")
        finally:
            with self._lock:
                self._running.discard(scan_id)
            self._loop.wake()

    # --- one scan ------------------------------------------------------------------------------------------

    def run_scan(self, scan_id: str) -> str:
        """Run the pipeline of a claimed scan to the end; returns its final status."""
        with self.sessions.begin() as s:
            scan = s.get_one(Scan, scan_id)
            ensure_steps(s, scan)
        ws = Workspace(self.settings.work_dir, scan_id)
        if not (ws.root / "scan.json").exists():
            ws.write_meta(
                ScanMeta(
                    scan.id,
                    scan.target,
                    scan.requester_email,
                    scan.scanners,
                    scan.created_at.isoformat(timespec="seconds"),
                    scan.confirmed_at.isoformat(timespec="seconds") if scan.confirmed_at else "",
                )
            )
        counts: dict[str, int] = {}
        with ThreadPoolExecutor(max_workers=4, thread_name_prefix=f"scan-{scan_id}") as steps_pool:
            while True:
                states = {st.name: st.state for st in get_steps(self.sessions, scan_id)}
                for name in blocked_steps(states):
                    update_step(
                        self.sessions, scan_id, name, state="skipped", message="not run: an earlier step failed"
                    )
                ready = ready_steps(states)
                if not ready or self._loop.stopping:
                    break
                futures: dict[Future, str] = {}
                for name in ready:
                    update_step(
                        self.sessions, scan_id, name, state="running", started_at=utcnow(), finished_at=None, message=""
                    )
                    futures[steps_pool.submit(self._run_step, scan, ws, name, counts)] = name
                pending = set(futures)
                while pending:
                    _, pending = wait(pending, timeout=HEARTBEAT_SECONDS, return_when=FIRST_COMPLETED)
                    self._heartbeat(scan_id)
        if self._loop.stopping:
            return RUNNING  # interrupted by shutdown: resumed by the next start, finished steps kept
        states = {st.name: st.state for st in get_steps(self.sessions, scan_id)}
        return self._finish(scan_id, states)

    def _run_step(self, scan: Scan, ws: Workspace, name: str, counts: dict[str, int]) -> None:
        def log_line(line: str) -> None:
            append_step_log(self.sessions, scan.id, name, line)

        kind = step_spec(name).kind
        try:
            if kind == "scanner":
                out = run_scanner(
                    ws,
                    name,
                    scan.target,
                    scan.scanners.get(name, {}),
                    self.settings.scope_policy(),
                    self.settings.scanner_timeout_seconds,
                    log_line,
                )
                update_step(
                    self.sessions,
                    scan.id,
                    name,
                    state=out.state,
                    finished_at=utcnow(),
                    message=out.message or out.summary,
                    tool=out.tool,
                    tool_version=out.tool_version,
                )
                return
            if kind == "report":
                prev_id, prev, prev_ok = previous_scan_findings(self.sessions, scan)
                marks = marks_for_host(self.sessions, scan.host)
                result = build_report(ws, prev, prev_id, marks, previous_succeeded=prev_ok)
                save_findings(self.sessions, scan.id, result.document)
                counts.update(result.counts)
                since = ", ".join(f"{v} {k}" for k, v in result.diff.counts().items())
                message = f"{len(result.findings)} finding(s); " + (
                    f"since scan {prev_id}: {since}" if prev_id else "first scan of this target"
                )
            elif kind == "publish":
                key = publish(self.store, ws)
                with self.sessions.begin() as s:
                    s.execute(update(Scan).where(Scan.id == scan.id).values(report_key=key))
                message = f"stored under {key}"
            else:
                with self.sessions() as s:
                    counts = counts or dict(s.get_one(Scan, scan.id).severity_counts or {})
                notify(self.mailer, self.store, ws, scan.requester_email, counts)
                message = f"report link mailed to {scan.requester_email}" + (
                    " (outbox)" if self.mailer.uses_outbox else ""
                )
            log_line(message)
            update_step(self.sessions, scan.id, name, state="succeeded", finished_at=utcnow(), message=message)
        except Exception as e:
            log.exception("step %s of scan %s failed", name, scan.id)
            update_step(
                self.sessions, scan.id, name, state="failed", finished_at=utcnow(), message=f"{type(e).__name__}: {e}"
            )

    def _heartbeat(self, scan_id: str) -> None:
        with self.sessions.begin() as s:
            s.execute(update(Scan).where(Scan.id == scan_id).values(heartbeat_at=utcnow()))

    def _finish(self, scan_id: str, states: dict[str, str]) -> str:
        failed = [n for n, st in states.items() if st == "failed"]
        scanner_failed = [n for n in failed if step_spec(n).kind == "scanner"]
        other_failed = [n for n in failed if step_spec(n).kind != "scanner"]
        if other_failed:
            status, reason = FAILED, f"step {other_failed[0]} failed"
        elif scanner_failed:
            status, reason = PARTIAL, f"scanner(s) failed: {', '.join(scanner_failed)}"
        else:
            status, reason = SUCCEEDED, ""
        finish_scan(self.sessions, scan_id, status, reason)
        return status
