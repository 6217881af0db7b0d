"""What a notification says and when one is sent: pure rules and payload builders for each channel (email,
Slack incoming webhook, Microsoft Teams workflow, a signed generic webhook). Sending is lib/adapters/notify.py.

Generic webhooks are signed: header `X-Scanboard-Timestamp` holds the Unix time of sending, and
`X-Scanboard-Signature` is `sha256=` + hex HMAC-SHA256 over `<timestamp>.<raw body>` with the signing secret."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from lib.core.findings import SEVERITIES, SEVERITY_RANK
from lib.core.scope import Resolver, ScopeError, ScopePolicy, check_url, system_resolver
from lib.core.validation import check_email

CHANNELS = ("email", "slack", "teams", "webhook")
EVENTS = ("finished", "failed", "new_findings", "fixed")
EVENT_LABELS = {
    "finished": "when a scan finishes",
    "failed": "when a scan fails",
    "new_findings": "when a scan finds something new at or above a severity",
    "fixed": "when a finding is fixed",
}
TIMESTAMP_HEADER = "X-Scanboard-Timestamp"
SIGNATURE_HEADER = "X-Scanboard-Signature"
MAX_LISTED = 10  # findings named in one message; the rest are counted


@dataclass(frozen=True)
class Change:
    severity: str
    title: str


@dataclass(frozen=True)
class ScanSummary:
    """What a finished scan's notification needs to say."""

    scan_id: str
    target: str
    status: str  # succeeded | partial | failed
    reason: str
    counts: dict[str, int]
    new: list[Change] = field(default_factory=list)
    fixed: list[Change] = field(default_factory=list)
    report_url: str = ""
    progress_url: str = ""
    note: str = ""  # e.g. that missed scheduled runs were folded into this one

    @property
    def failed(self) -> bool:
        return self.status == "failed"


class RuleInvalid(ValueError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def destination_policy(policy: ScopePolicy) -> ScopePolicy:
    """The scope policy for notification URLs: the scan policy's address rules and denied domains, but not its
    allowlist of scannable domains (a Slack or Teams endpoint is not a scan target)."""
    return replace(policy, allow_domains=())


def check_rule(
    channel: str,
    destination: str,
    event: str,
    min_severity: str,
    policy: ScopePolicy,
    owner: str,
    resolve: Resolver = system_resolver,
) -> str:
    """The normalised destination of a valid rule, or RuleInvalid. URLs must pass the scope policy like a scan
    target (no internal addresses in cluster mode): a notification must not become a way to reach inside. Email
    goes to the owner's own mail domain: a rule must not make scanboard mail a target's findings to outsiders."""
    errors: dict[str, str] = {}
    if channel not in CHANNELS:
        errors["channel"] = f"Choose one of {', '.join(CHANNELS)}."
    if event not in EVENTS:
        errors["event"] = f"Choose one of {', '.join(EVENTS)}."
    if event == "new_findings" and min_severity not in SEVERITIES:
        errors["min_severity"] = f"Choose the lowest severity to report: one of {', '.join(SEVERITIES)}."
    dest = (destination or "").strip()
    try:
        dest = _check_mailbox(dest, owner) if channel == "email" else _check_url(dest, policy, resolve)
    except (ValueError, ScopeError) as e:
        errors["destination"] = str(e)
    if errors:
        raise RuleInvalid(errors)
    return dest


def _check_mailbox(address: str, owner: str) -> str:
    """The address, if it is at the rule owner's mail domain (theirs or a team list beside it)."""
    address = check_email(address)
    domain = owner.rpartition("@")[2].strip().lower()
    if not domain or address.rpartition("@")[2].lower() != domain:
        where = f"@{domain}" if domain else "your own mail domain"
        raise ValueError(f"Notification emails go to addresses at {where} only (yours or a team list there).")
    return address


def _check_url(url: str, policy: ScopePolicy, resolve: Resolver) -> str:
    if not url.startswith(("https://", "http://")):
        raise ValueError("Give the webhook URL, starting with https://.")
    if any(c in url for c in "\r\n\0 ") or len(url) > 2048:
        raise ValueError("This is not a valid webhook URL.")
    return check_url(url, destination_policy(policy), resolve).url


def mask(channel: str, destination: str) -> str:
    """A destination as it may be shown back: the host only (webhook URLs are credentials)."""
    if channel == "email":
        return destination
    p = urlsplit(destination)
    return f"{p.scheme}://{p.hostname}/…" + (destination[-4:] if len(destination) > 40 else "")


def matches(event: str, min_severity: str, summary: ScanSummary) -> bool:
    """Whether a rule for `event` fires for this scan."""
    if event == "finished":
        return True
    if event == "failed":
        return summary.failed
    if event == "fixed":
        return bool(summary.fixed)
    floor = SEVERITY_RANK.get(min_severity, len(SEVERITIES))
    return any(SEVERITY_RANK.get(c.severity, len(SEVERITIES)) <= floor for c in summary.new)


def counts_line(counts: dict[str, int]) -> str:
    return ", ".join(f"{counts.get(s, 0)} {s}" for s in SEVERITIES)


def headline(summary: ScanSummary) -> str:
    what = {"succeeded": "finished", "partial": "finished (some scanners failed)", "failed": "failed"}
    return f"Scan of {summary.target} {what.get(summary.status, summary.status)}"


def _listed(changes: list[Change]) -> list[str]:
    lines = [f"[{c.severity}] {c.title}" for c in changes[:MAX_LISTED]]
    if len(changes) > MAX_LISTED:
        lines.append(f"… and {len(changes) - MAX_LISTED} more")
    return lines


def text_lines(summary: ScanSummary) -> list[str]:
    """The message as plain lines, shared by every channel."""
    lines = [headline(summary), f"Findings: {counts_line(summary.counts)}"]
    if summary.failed and summary.reason:
        lines.append(f"Reason: {summary.reason}")
    lines.append(f"New since the last scan: {len(summary.new)}; fixed: {len(summary.fixed)}")
    lines += [f"  new {x}" for x in _listed(summary.new)] + [f"  fixed {x}" for x in _listed(summary.fixed)]
    if summary.note:
        lines.append(summary.note)
    return lines


def email(summary: ScanSummary) -> tuple[str, str]:
    body = "\n".join(text_lines(summary))
    body += f"\n\nReport: {summary.report_url}\nProgress: {summary.progress_url}\n\nScan id: {summary.scan_id}\n"
    return headline(summary), body


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")  # <!channel> must not ping


def slack(summary: ScanSummary) -> dict[str, Any]:
    """An incoming-webhook message: `text` (the notification's fallback) and Block Kit blocks."""
    lines = [_slack_escape(x) for x in text_lines(summary)]
    links = f"<{summary.report_url}|Report> · <{summary.progress_url}|Progress>"
    return {
        "text": f"{lines[0]}: {lines[1]}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": headline(summary)[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines[1:])[:3000]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": links}},
        ],
    }


def teams(summary: ScanSummary) -> dict[str, Any]:
    """A Teams workflow ("post to a channel when a webhook request is received") message with one Adaptive Card."""
    facts = [{"title": s.capitalize(), "value": str(summary.counts.get(s, 0))} for s in SEVERITIES]
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": headline(summary), "weight": "Bolder", "size": "Medium", "wrap": True},
        {"type": "FactSet", "facts": facts},
        {"type": "TextBlock", "text": "\n\n".join(text_lines(summary)[2:]), "wrap": True},
    ]
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "actions": [
            {"type": "Action.OpenUrl", "title": "Report", "url": summary.report_url},
            {"type": "Action.OpenUrl", "title": "Progress", "url": summary.progress_url},
        ],
    }
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


def webhook(summary: ScanSummary, event: str) -> dict[str, Any]:
    """The generic webhook's JSON: everything, machine-readable."""
    return {
        "event": event,
        "scan_id": summary.scan_id,
        "target": summary.target,
        "status": summary.status,
        "reason": summary.reason,
        "counts": {s: summary.counts.get(s, 0) for s in SEVERITIES},
        "new": [{"severity": c.severity, "title": c.title} for c in summary.new],
        "fixed": [{"severity": c.severity, "title": c.title} for c in summary.fixed],
        "links": {"report": summary.report_url, "progress": summary.progress_url},
        "note": summary.note,
    }


def payload(channel: str, event: str, summary: ScanSummary) -> dict[str, Any]:
    """What is stored for a delivery (email: subject and body)."""
    if channel == "email":
        subject, body = email(summary)
        return {"subject": subject, "body": body}
    return {"slack": slack, "teams": teams}.get(channel, lambda s: webhook(s, event))(summary)


def body_bytes(data: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed): compact JSON, UTF-8."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Scanboard-Signature` value for a body sent at `timestamp` (Unix seconds, as sent)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()
