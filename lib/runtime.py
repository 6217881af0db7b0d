"""The composition root: builds the app's services from the settings, choosing adapters by mode, and runs the
background loops (scan dispatch, mail retries). The portal keeps one Runtime per process."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine as SqlEngine
from sqlalchemy.orm import Session, sessionmaker

from lib.adapters.db import make_engine, migrate, session_factory
from lib.adapters.kube import KubeSettings, connect
from lib.adapters.mail import Mailer, SmtpTransport
from lib.adapters.models import utcnow
from lib.adapters.notify import HttpSender, Notifier
from lib.adapters.storage import LocalReportStore, ReportStore, S3ReportStore
from lib.adapters.webhook import Webhook
from lib.config import Settings
from lib.engines.argo import ArgoEngine
from lib.engines.local import LocalEngine
from lib.insights.history import ScanFacts
from lib.insights.sampler import Sampler, build_sampler
from lib.services.context import Engine
from lib.services.notifications import evaluate_finished
from lib.services.ownership import prove, verify_waiting
from lib.services.schedules import run_due

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    db: SqlEngine
    sessions: sessionmaker[Session]
    mailer: Mailer
    store: ReportStore
    engine: Engine
    sampler: Sampler | None = None  # one per process: cluster / worker-pool samples for the cluster page
    history: ScanFacts | None = None  # one per process: the History page's in-memory scan facts
    notifier: Notifier | None = None  # notification deliveries (Slack, Teams, webhooks, email)
    clock: Callable[[], datetime] = utcnow  # the scheduler's clock; tests pass their own
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    @property
    def mode(self) -> str:
        return self.settings.scanboard_mode

    def start(self) -> Runtime:
        self.engine.start()
        if self.sampler is not None:
            self.sampler.start()
        t = threading.Thread(target=self._housekeeping_loop, name="housekeeping", daemon=True)
        t.start()
        self._threads.append(t)
        if self.history is not None:  # load the History page's data now, not when its first viewer arrives
            threading.Thread(target=self._warm_history, args=(self.history,), name="history-warm", daemon=True).start()
        return self

    def _warm_history(self, history: ScanFacts) -> None:
        try:
            history.warm()
        except Exception:  # the page loads it again on demand
            log.exception("warming the history data failed")

    def stop(self) -> None:
        self._stop.set()
        self.engine.stop()
        if self.sampler is not None:
            self.sampler.stop()
        for t in self._threads:
            t.join(timeout=5)
        self.db.dispose()

    def _housekeeping_loop(self) -> None:
        """Retry stored mail, and check the ownership proofs of scans waiting for one."""
        interval = min(self.settings.retry_seconds, 5.0)
        next_proof_check = 0.0
        while not self._stop.wait(interval):
            try:
                self.mailer.retry_due()
                self.scheduler_tick()
                if time.monotonic() >= next_proof_check:
                    next_proof_check = time.monotonic() + self.settings.ownership_check_seconds
                    self.check_ownership()
            except Exception:
                log.exception("housekeeping pass failed")

    def scheduler_tick(self) -> list[str]:
        """The scheduler's duty, once: start the due recurring scans (ids returned), notify about finished
        scans, retry notifications that failed."""
        now = self.clock()
        started = run_due(self, now)
        if self.notifier is not None:
            evaluate_finished(self, self.notifier, now)
            self.notifier.retry_due(now)
        return started

    def check_ownership(self) -> list[str]:
        """Queue the scans whose ownership proof is now there; returns their ids."""
        policy = self.settings.scope_policy()
        proven = verify_waiting(
            self.sessions,
            lambda target, token: prove(target, token, policy),
            timedelta(hours=self.settings.token_ttl_hours),
        )
        for scan_id in proven:
            self.engine.submit(scan_id)
        return proven


def build_runtime(settings: Settings) -> Runtime:
    """Services for the configured mode; the schema is migrated before anything uses it."""
    db = make_engine(settings.db_url)
    migrate(db)
    sessions = session_factory(db)
    transport = SmtpTransport.from_settings(settings) if settings.smtp_configured else None
    mailer = Mailer(sessions, transport, settings.retry_seconds)
    if settings.scanboard_mode == "argo":
        store: ReportStore = S3ReportStore(
            settings.reports_bucket, settings.aws_region, settings.s3_endpoint_url, settings.presign_expiry_seconds
        )
        token = settings.argo_webhook_token.get_secret_value() if settings.argo_webhook_token else ""
        engine: Engine = ArgoEngine(
            settings,
            sessions,
            store,
            mailer,
            Webhook(settings.argo_webhook_url, token),
            lambda: connect(kube_settings(settings)),
        )
    else:
        store = LocalReportStore(settings.reports_dir, settings.public_base_url)
        engine = LocalEngine(settings, sessions, store, mailer)
    return Runtime(
        settings,
        db,
        sessions,
        mailer,
        store,
        engine,
        sampler=build_sampler(settings, sessions, engine),
        history=ScanFacts(sessions, ttl_s=30.0),
        notifier=Notifier(
            sessions,
            HttpSender(settings.signing_secret, settings.scope_policy(), settings.notify_timeout_seconds),
            mailer,
            settings.retry_seconds,
        ),
    )


def kube_settings(settings: Settings) -> KubeSettings:
    return KubeSettings(kubeconfig=settings.kubeconfig or None, namespace=settings.k8s_namespace)
