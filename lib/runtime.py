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

from lib.adapters.background import BackgroundLoop
from lib.adapters.db import make_engine, migrate, session_factory
from lib.adapters.kube import Kube, KubeSettings, SharedKube, connect
from lib.adapters.lease import Lease
from lib.adapters.mail import Mailer, SmtpTransport
from lib.adapters.models import utcnow
from lib.adapters.notify import HttpSender, Notifier
from lib.adapters.private_files import private_dir
from lib.adapters.storage import LocalReportStore, ReportStore, S3ReportStore
from lib.adapters.webhook import Webhook
from lib.config import Settings
from lib.engines.argo import ArgoEngine
from lib.engines.base import Engine
from lib.engines.local import LocalEngine
from lib.insights.cluster_snapshot import ClusterSnapshots
from lib.insights.history_queries import ScanFacts
from lib.insights.sampler import Sampler, cluster_probe, pool_probe
from lib.services.callbacks import deliver_due
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
    cluster: ClusterSnapshots | None = None  # argo mode: the one Kubernetes snapshot the page and sampler share
    kube: SharedKube | None = None  # argo mode: the one Kubernetes client (engine and snapshot)
    notifier: Notifier | None = None  # notification deliveries (Slack, Teams, webhooks, email)
    clock: Callable[[], datetime] = utcnow  # the scheduler's clock; tests pass their own
    _housekeeping: BackgroundLoop = field(init=False)
    _housekeeping_lease: Lease = field(init=False)
    _next_proof_check: float = 0.0

    def __post_init__(self) -> None:
        interval = min(self.settings.retry_seconds, 5.0)
        duties = (self.mailer.retry_due, self._deliver_callbacks, self._check_ownership_when_due, self.scheduler_tick)
        # One holder among the processes on this database (portal and API replicas): a callback or a schedule
        # run is then POSTed / started by one of them, and a dead holder's duties pass on after the lease's ttl.
        self._housekeeping_lease = Lease(self.sessions, "housekeeping", self.settings.leader_lease_seconds)
        self._housekeeping = BackgroundLoop(
            "housekeeping", duties, interval, delay_first=True, only_while=self._housekeeping_lease.hold
        )

    @property
    def mode(self) -> str:
        return self.settings.scanboard_mode

    def start(self) -> Runtime:
        self.engine.start()
        if self.sampler is not None:
            self.sampler.start()
        self._housekeeping.start()
        if self.history is not None:  # load the History page's data now, not when its first viewer arrives
            threading.Thread(target=self._warm_history, args=(self.history,), name="history-warm", daemon=True).start()
        return self

    def _warm_history(self, history: ScanFacts) -> None:
        try:
            history.warm()
        except Exception:  # the page loads it again on demand
            log.exception("warming the history data failed")

    def stop(self) -> None:
        self._housekeeping.stop()
        self._housekeeping_lease.release()
        self.engine.stop()
        if self.sampler is not None:
            self.sampler.stop()
        if self.kube is not None:
            self.kube.close()
        self.db.dispose()

    def _deliver_callbacks(self) -> None:
        """POST the final status of finished API scans to their callback URLs."""
        deliver_due(self.sessions, self.settings.scope_policy(), self.settings.public_base_url)

    def _check_ownership_when_due(self) -> None:
        """Housekeeping runs often (mail retries); ownership proofs are checked every OWNERSHIP_CHECK_SECONDS."""
        if time.monotonic() >= self._next_proof_check:
            self._next_proof_check = time.monotonic() + self.settings.ownership_check_seconds
            self.check_ownership()

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
    private_dir(settings.data_dir)
    db = make_engine(settings.db_url)
    migrate(db)
    sessions = session_factory(db)
    mailer = Mailer(sessions, build_transport(settings), settings.retry_seconds)
    store = build_store(settings)
    history = ScanFacts(sessions, ttl_s=30.0)
    notifier = build_notifier(settings, sessions, mailer)
    interval, retention = settings.sample_seconds, settings.sample_retention_hours
    lease_s = settings.leader_lease_seconds
    if settings.scanboard_mode == "argo":
        kube = SharedKube(kube_settings(settings))
        token = settings.argo_webhook_token.get_secret_value() if settings.argo_webhook_token else ""
        webhook = Webhook(settings.argo_webhook_url, token)
        argo = ArgoEngine(settings, sessions, store, mailer, webhook, kube.get, Lease(sessions, "argo-sync", lease_s))
        cluster = ClusterSnapshots(kube.get, interval)
        sampler = Sampler(sessions, cluster_probe(cluster), interval, retention, Lease(sessions, "sampler", lease_s))
        return Runtime(
            settings, db, sessions, mailer, store, argo, sampler, history, cluster=cluster, kube=kube, notifier=notifier
        )
    local = LocalEngine(settings, sessions, store, mailer)
    sampler = Sampler(sessions, pool_probe(local), interval, retention, Lease(sessions, "sampler", lease_s))
    return Runtime(settings, db, sessions, mailer, store, local, sampler, history, notifier=notifier)


def build_notifier(settings: Settings, sessions: sessionmaker[Session], mailer: Mailer) -> Notifier:
    """Notification deliveries: posted to webhooks that pass the scope policy, email through the mailer."""
    sender = HttpSender(settings.signing_secret, settings.scope_policy(), settings.notify_timeout_seconds)
    return Notifier(sessions, sender, mailer, settings.retry_seconds)


def build_store(settings: Settings) -> ReportStore:
    """Argo mode: the S3 bucket the portal and the Workflow pods share; embedded: the local reports folder."""
    if settings.scanboard_mode == "argo":
        return S3ReportStore(
            settings.reports_bucket, settings.aws_region, settings.s3_endpoint_url, settings.presign_expiry_seconds
        )
    return LocalReportStore(settings.reports_dir, settings.public_base_url)


def build_transport(settings: Settings) -> SmtpTransport | None:
    """SMTP when SMTP_HOST is set; None keeps mail in the outbox."""
    return SmtpTransport.from_settings(settings) if settings.smtp_configured else None


def kube_settings(settings: Settings) -> KubeSettings:
    return KubeSettings(
        kubeconfig=settings.kubeconfig or None,
        namespace=settings.k8s_namespace or None,
        in_cluster=settings.kube_in_cluster,
    )


def connect_kube(settings: Settings) -> Kube:
    """A read-only Kubernetes client from the settings (for tools and benches outside a Runtime)."""
    return connect(kube_settings(settings))
