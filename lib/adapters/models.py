"""The database records (SQLAlchemy 2), the same in SQLite and PostgreSQL. The schema itself is made by the
Alembic migrations in lib/migrations, never by `create_all`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, TypeDecorator, UniqueConstraint
from sqlalchemy import DateTime as _DateTime
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class DateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the zone; this puts it back)."""

    impl = _DateTime(timezone=True)
    cache_ok = True

    def __init__(self, timezone: bool = True) -> None:
        super().__init__()

    def process_bind_param(self, value: datetime | None, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime stored; use lib.adapters.models.utcnow()")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    pass


# Scan statuses, in lifecycle order.
AWAITING_CONFIRMATION = "awaiting_confirmation"
AWAITING_OWNERSHIP = "awaiting_ownership"  # confirmed; waiting for the proof that the requester owns the target
QUEUED = "queued"  # confirmed; waiting for a worker (embedded) or for the webhook to accept it (argo)
RUNNING = "running"
SUCCEEDED = "succeeded"
PARTIAL = "partial"  # report published, but at least one scanner failed
FAILED = "failed"
SCAN_STATUSES = (AWAITING_CONFIRMATION, AWAITING_OWNERSHIP, QUEUED, RUNNING, SUCCEEDED, PARTIAL, FAILED)
FINAL_STATUSES = frozenset({SUCCEEDED, PARTIAL, FAILED})

# How a scan was asked for (scans.requested_via, a plain string column: a new value needs no migration).
VIA_FORM, VIA_API, VIA_SCHEDULE = "form", "api", "schedule"  # the portal's form, an API token, a schedule's run


class Scan(Base):
    __tablename__ = "scans"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    target: Mapped[str] = mapped_column(String(2048))
    host: Mapped[str] = mapped_column(String(255), index=True)
    requester_email: Mapped[str] = mapped_column(String(320), index=True)
    client_id: Mapped[str] = mapped_column(String(128), default="", index=True)
    scanners: Mapped[dict[str, Any]] = mapped_column(JSON)  # {"portscan": {"ports": "1-1024"}, ...}
    status: Mapped[str] = mapped_column(String(32), index=True)
    status_reason: Mapped[str] = mapped_column(Text, default="")
    token_jti: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dispatch_attempts: Mapped[int] = mapped_column(Integer, default=0)
    deliveries: Mapped[int] = mapped_column(Integer, default=0)  # argo: times the webhook accepted the scan
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    severity_counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    diff_counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    report_key: Mapped[str] = mapped_column(String(512), default="")  # storage prefix of the report
    ownership_token: Mapped[str] = mapped_column(String(64), default="")  # "" when no proof is required
    ownership_verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    requested_via: Mapped[str] = mapped_column(String(16), default=VIA_FORM)  # form | api | schedule
    callback_url: Mapped[str] = mapped_column(String(2048), default="")  # POSTed the final status (API scans)
    callback_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Step(Base):
    __tablename__ = "steps"
    __table_args__ = (UniqueConstraint("scan_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scan_id: Mapped[str] = mapped_column(ForeignKey("scans.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))  # pending running succeeded failed skipped
    tool: Mapped[str] = mapped_column(String(64), default="")
    tool_version: Mapped[str] = mapped_column(String(64), default="")
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    message: Mapped[str] = mapped_column(Text, default="")
    log: Mapped[str] = mapped_column(Text, default="")


class FindingRecord(Base):
    """A finding of one scan, after de-duplication, with its place in the diff against the previous scan."""

    __tablename__ = "findings"
    __table_args__ = (Index("ix_findings_host_issue", "host", "issue_fp"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scan_id: Mapped[str] = mapped_column(ForeignKey("scans.id", ondelete="CASCADE"), index=True)
    host: Mapped[str] = mapped_column(String(255))
    tool: Mapped[str] = mapped_column(String(64))
    rule_id: Mapped[str] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(String(512))
    severity: Mapped[str] = mapped_column(String(16), index=True)
    rule_fp: Mapped[str] = mapped_column(String(64))
    issue_fp: Mapped[str] = mapped_column(String(64))
    diff_state: Mapped[str] = mapped_column(String(16))  # new | unchanged | fixed
    data: Mapped[dict[str, Any]] = mapped_column(JSON)  # the whole normalised finding (lib.core.findings.Finding)


class TriageEvent(Base):
    """One change of a finding's triage (lib.core.triage), append-only: the newest row per (host, rule) is the
    mark in force; the rows before it are the record of who changed what and when."""

    __tablename__ = "triage_events"
    __table_args__ = (Index("ix_triage_host_rule", "host", "rule", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    host: Mapped[str] = mapped_column(String(255))
    rule: Mapped[str] = mapped_column(String(160))
    state: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text, default="")
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    by: Mapped[str] = mapped_column(String(320))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    scan_id: Mapped[str] = mapped_column(String(32), default="")  # the scan the mark was made on


# Mail statuses.
MAIL_PENDING = "pending"  # stored, not yet handed to SMTP
MAIL_SENT = "sent"
MAIL_RETRYING = "retrying"  # the last attempt failed; next_attempt_at says when the next one is
MAIL_OUTBOX = "outbox"  # no SMTP configured: delivered to the outbox page


class Message(Base):
    """Every email is stored here before it is sent, so a failed send is retried, never lost."""

    __tablename__ = "messages"
    # A scan's mail of one kind is stored once (lib/adapters/mail.py); NULL keys (mail of no scan) do not collide.
    __table_args__ = (Index("ux_messages_idempotency_key", "idempotency_key", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scan_id: Mapped[str] = mapped_column(String(32), index=True, default="")
    kind: Mapped[str] = mapped_column(String(32))  # confirm | report
    to_addr: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str] = mapped_column(Text, default="")  # the one link the message is about
    status: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # "<scan>:<kind>" for a scan's mail: stored (and so sent) once, whichever replica or step asks first.
    idempotency_key: Mapped[str | None] = mapped_column(String(96), default=None)


class ClusterSample(Base):
    """One sampled value of where scans run, in long form so new measures need no migration.

    metric: nodes (per group and capacity type), pending_pods, scan_pods_running (argo mode);
    workers_busy, workers_idle, queue_length (embedded mode). Rows older than the retention are deleted.
    """

    __tablename__ = "cluster_samples"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    taken_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    metric: Mapped[str] = mapped_column(String(32))
    group: Mapped[str] = mapped_column(String(64), default="")
    capacity_type: Mapped[str] = mapped_column(String(32), default="")
    value: Mapped[float] = mapped_column(Float)


class LimitKey(Base):
    """One row per requester email and per client; locking it makes "count, then insert" atomic per requester."""

    __tablename__ = "limit_keys"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    touched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Lease(Base):
    """A background duty's leader: `holder` runs it until `expires_at`, renewing; another takes over after."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditEvent(Base):
    """Who did what to which scan, and sign-ins. Append-only: database triggers refuse UPDATE and DELETE."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(320), index=True)  # an email, or "local" without sign-in
    action: Mapped[str] = mapped_column(String(32), index=True)
    scan_id: Mapped[str] = mapped_column(String(32), default="", index=True)
    detail: Mapped[str] = mapped_column(String(500), default="")


class ApiToken(Base):
    """An API token: only its sha256 is kept; the prefix finds the row."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    owner_email: Mapped[str] = mapped_column(String(320), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    scopes: Mapped[str] = mapped_column(String(100))  # space-separated, e.g. "scans:read scans:write"
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ApiAudit(Base):
    """One row per API call, appended and never changed."""

    __tablename__ = "api_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    token_prefix: Mapped[str] = mapped_column(String(16), default="", index=True)
    owner_email: Mapped[str] = mapped_column(String(320), default="")
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(512))
    status: Mapped[int] = mapped_column(Integer)
    client: Mapped[str] = mapped_column(String(64), default="")
    scan_id: Mapped[str] = mapped_column(String(32), default="")


class Schedule(Base):
    """A recurring scan: each run is an ordinary scan (lib/services/schedules.py), so History and limits see it."""

    __tablename__ = "schedules"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner_email: Mapped[str] = mapped_column(String(320), index=True)
    target: Mapped[str] = mapped_column(String(2048))
    host: Mapped[str] = mapped_column(String(255))
    scanners: Mapped[dict[str, Any]] = mapped_column(JSON)  # scanner -> its options, as for a scan
    cron: Mapped[str] = mapped_column(String(128))
    tz: Mapped[str] = mapped_column(String(64))
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    paused_reason: Mapped[str] = mapped_column(Text, default="")
    ownership_token: Mapped[str] = mapped_column(String(64), default="")  # "" when no proof is required
    next_run_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    last_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_scan_id: Mapped[str] = mapped_column(String(32), default="")
    last_outcome: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ScheduleRun(Base):
    """Which scan a schedule started, and how many missed runs it stands for."""

    __tablename__ = "schedule_runs"

    scan_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    schedule_id: Mapped[str] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"), index=True)
    scheduled_for: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    missed: Mapped[int] = mapped_column(Integer, default=0)


class NotificationRule(Base):
    """Tell a channel about a user's scans (or one schedule's): on finish, failure, new findings, fixed ones."""

    __tablename__ = "notification_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner_email: Mapped[str] = mapped_column(String(320), index=True)
    schedule_id: Mapped[str] = mapped_column(String(32), default="", index=True)  # "": every scan of the owner
    channel: Mapped[str] = mapped_column(String(16))  # email | slack | teams | webhook
    destination: Mapped[str] = mapped_column(Text)  # an address or a URL; a secret, shown back only masked
    event: Mapped[str] = mapped_column(String(16))  # finished | failed | new_findings | fixed
    min_severity: Mapped[str] = mapped_column(String(16), default="")  # for new_findings
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Delivery(Base):
    """One notification, stored before it is sent and retried like mail (lib/adapters/outbox.py)."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (UniqueConstraint("rule_id", "scan_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("notification_rules.id", ondelete="CASCADE"), index=True)
    scan_id: Mapped[str] = mapped_column(String(32), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), index=True)  # the mail statuses: pending sending retrying sent
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class NotifiedScan(Base):
    """A finished scan whose notification rules have been evaluated (each scan is evaluated once)."""

    __tablename__ = "notified_scans"

    scan_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# Covers the history page's scanner-duration query (steps of the filtered scans), so it never reads step rows.
Index("ix_steps_timing", Step.scan_id, Step.name, Step.state, Step.started_at, Step.finished_at)
