"""The request side of a scan: submit (validate, store, mail a confirmation link) and confirm (verify the
link, use it exactly once, hand the scan to the engine)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, select, update

from lib.adapters.audit import add_event
from lib.adapters.models import AWAITING_CONFIRMATION, AWAITING_OWNERSHIP, QUEUED, VIA_API, Scan, utcnow
from lib.core.limit_rules import LimitExceeded, keys_for
from lib.core.messages import confirmation_email
from lib.core.ownership_rules import new_token as new_ownership_token
from lib.core.scope import Resolver, system_resolver
from lib.core.tokens import TokenError, make_token, new_jti, verify_token
from lib.core.validation import RequestInvalid, ScanRequest, check_callback_url, validate_request
from lib.services.context import Services
from lib.services.limits import check_running, check_submit, lock
from lib.services.ownership import instructions as ownership_instructions


@dataclass(frozen=True)
class SubmitOutcome:
    scan_id: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    email_status: str = ""  # outbox | sent | retrying

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class ConfirmOutcome:
    status: str  # started | already | busy | expired | invalid | unknown
    message: str
    scan_id: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "started"


def new_scan_id() -> str:
    return secrets.token_hex(6)  # 12 hex characters: short to read out, and `scan-<id>` fits Kubernetes names


def confirm_link(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/confirm?token={token}"


def submit(
    svc: Services,
    target: str,
    email: str,
    scanners: dict[str, dict[str, Any]],
    client_id: str = "",
    resolve: Resolver = system_resolver,
    now: datetime | None = None,
    actor: str = "",
) -> SubmitOutcome:
    """Validate and store the request, then mail the confirmation link. Nothing is stored when invalid.
    `actor`: the signed-in viewer asking, for the audit log (default: the email entered)."""
    try:
        req = validate_request(target, email, scanners, svc.settings.scope_policy(), resolve)
    except RequestInvalid as e:
        return SubmitOutcome(errors=e.errors)
    now = now or utcnow()
    scan_id, jti = new_scan_id(), new_jti()
    ttl = timedelta(hours=svc.settings.token_ttl_hours)
    proof_token = new_ownership_token() if svc.settings.ownership_required(req.host) else ""
    scan = _new_scan(req, scan_id, client_id, now, proof_token, status=AWAITING_CONFIRMATION, token_jti=jti)
    try:
        _store(svc, scan, client_id, now, ttl, running_too=False, actor=actor or req.email, event="requested")
    except LimitExceeded as e:
        return SubmitOutcome(errors={"limit": str(e)})
    token = make_token(svc.settings.token_secret(), scan_id, jti, now, ttl)
    link = confirm_link(svc.settings.public_base_url, token)
    subject, body = confirmation_email(req.target, scan_id, req.scanners, link, svc.settings.token_ttl_hours)
    if proof_token:
        body += "\n" + ownership_instructions(req.target, proof_token) + "\n"
    msg_id = svc.mailer.enqueue("confirm", req.email, subject, body, link=link, scan_id=scan_id)
    return SubmitOutcome(scan_id=scan_id, email_status=svc.mailer.status(msg_id))


def submit_confirmed(
    svc: Services,
    target: str,
    owner_email: str,
    scanners: dict[str, dict[str, Any]],
    client_id: str = "",
    callback_url: str = "",
    resolve: Resolver = system_resolver,
    now: datetime | None = None,
) -> SubmitOutcome:
    """A request whose requester is already proven (an API token stands for its owner): the same validation,
    scope policy, ownership proof and limits as the form, but no confirmation mail; the scan is queued (or waits
    for the ownership proof) at once."""
    policy = svc.settings.scope_policy()
    try:
        req = validate_request(target, owner_email, scanners, policy, resolve)
        callback_url = check_callback_url(callback_url, policy, resolve)
    except RequestInvalid as e:
        return SubmitOutcome(errors=e.errors)
    now = now or utcnow()
    proof_token = new_ownership_token() if svc.settings.ownership_required(req.host) else ""
    scan = _new_scan(req, new_scan_id(), client_id, now, proof_token, status=QUEUED, token_jti="")
    scan.confirmed_at, scan.requested_via, scan.callback_url = now, VIA_API, callback_url
    if proof_token:
        scan.status, scan.status_reason = AWAITING_OWNERSHIP, "waiting for the ownership proof"
    else:
        scan.status_reason = "waiting for a worker"
    try:
        _store(
            svc,
            scan,
            client_id,
            now,
            timedelta(hours=svc.settings.token_ttl_hours),
            running_too=True,
            actor=owner_email,
            event="requested",
        )
    except LimitExceeded as e:
        return SubmitOutcome(errors={"limit": str(e)})
    if not proof_token:
        svc.engine.submit(scan.id)
    return SubmitOutcome(scan_id=scan.id)


def _new_scan(req: ScanRequest, scan_id: str, client_id: str, now: datetime, proof: str, **values: Any) -> Scan:
    return Scan(
        id=scan_id,
        target=req.target,
        host=req.host,
        requester_email=req.email,
        client_id=client_id,
        scanners=req.scanners,
        created_at=now,
        ownership_token=proof,
        **values,
    )


def _store(
    svc: Services,
    scan: Scan,
    client_id: str,
    now: datetime,
    ttl: timedelta,
    running_too: bool,
    actor: str,
    event: str,
) -> None:
    """Count the requester's limits and store the scan with its audit event in one transaction (LimitExceeded:
    nothing stored)."""
    with svc.sessions.begin() as s:
        lock(s, keys_for(scan.requester_email, client_id, svc.settings.limits()), now)
        check_submit(s, scan.requester_email, client_id, svc.settings.limits(), now, ttl)
        if running_too:
            check_running(s, scan.requester_email, svc.settings.limits(), "Ask again when one has finished.")
        s.add(scan)
        add_event(s, actor, event, scan.id, scan.target)


def confirm(svc: Services, token: str, now: datetime | None = None) -> ConfirmOutcome:
    """Use a confirmation link. The token is marked used in the same UPDATE that queues the scan, so of any
    number of concurrent confirmations exactly one starts it."""
    now = now or utcnow()
    try:
        claims = verify_token(svc.settings.token_secret(), token, now)
    except TokenError as e:
        return ConfirmOutcome("expired" if e.reason == "expired" else "invalid", str(e))
    try:
        with svc.sessions.begin() as s:
            scan = s.get(Scan, claims.scan_id)
            if scan is None:
                return ConfirmOutcome("unknown", "This confirmation link does not match any scan.")
            if scan.status == AWAITING_CONFIRMATION and scan.token_jti == claims.jti:
                lock(s, keys_for(scan.requester_email, "", svc.settings.limits()), now)
                check_running(s, scan.requester_email, svc.settings.limits())
            waits = bool(scan.ownership_token) and scan.ownership_verified_at is None
            res = cast(
                CursorResult,
                s.execute(
                    update(Scan)
                    .where(
                        Scan.id == claims.scan_id, Scan.token_jti == claims.jti, Scan.status == AWAITING_CONFIRMATION
                    )
                    .values(
                        status=AWAITING_OWNERSHIP if waits else QUEUED,
                        confirmed_at=now,
                        token_jti="",
                        status_reason="waiting for the ownership proof" if waits else "waiting for a worker",
                    )
                ),
            )
            started = res.rowcount == 1
            if started:  # the link's holder: the requester's mailbox
                add_event(s, scan.requester_email, "confirmed", claims.scan_id, "confirmation link")
    except LimitExceeded as e:
        return ConfirmOutcome("busy", str(e), claims.scan_id)
    if started and waits:
        return ConfirmOutcome(
            "started", "Scan confirmed: it starts once you have proven you own the target.", claims.scan_id
        )
    if started:
        svc.engine.submit(claims.scan_id)
        return ConfirmOutcome("started", "Scan confirmed: it is starting now.", claims.scan_id)
    with svc.sessions() as s:
        confirmed = s.scalar(select(Scan.confirmed_at).where(Scan.id == claims.scan_id))
    if confirmed is not None:
        return ConfirmOutcome("already", "This scan was already confirmed; the link works only once.", claims.scan_id)
    return ConfirmOutcome("unknown", "This confirmation link does not match any scan waiting for confirmation.")
