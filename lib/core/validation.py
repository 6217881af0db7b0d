"""Validation of a scan request as the form submits it: every problem is reported next to its field."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from email_validator import EmailNotValidError, validate_email

from lib.core.pipeline import (
    MAX_WEB_DEPTH,
    OPTION_DEFAULTS,
    SCANNERS,
    WEBHOOK_MAX_PAYLOAD_BYTES,
    WebhookPayload,
    workflow_parameters,
)
from lib.core.ports import parse_port_spec
from lib.core.scope import Resolver, ScopeError, ScopePolicy, check_url, system_resolver

MAX_EMAIL_LENGTH = 254
MAX_PATH_LENGTH = 512
MAX_CALLBACK_LENGTH = 2048


@dataclass(frozen=True)
class ScanRequest:
    target: str
    host: str
    email: str
    scanners: dict[str, dict[str, Any]]  # only the requested scanners, options complete


class RequestInvalid(ValueError):
    """`errors` maps a form field (target, email, scanners, portscan.ports, web.path, ...) to a message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def check_email(email: str) -> str:
    """The normalised address, or ValueError with the reason."""
    email = (email or "").strip()
    if not email:
        raise ValueError("Enter the email address the confirmation link should go to.")
    if any(c in email for c in "\r\n\0") or len(email) > MAX_EMAIL_LENGTH:
        raise ValueError("This is not a valid email address.")
    try:
        return validate_email(email, check_deliverability=False).normalized
    except EmailNotValidError as e:
        raise ValueError(f"This is not a valid email address: {e}") from None


def whole_number(value: Any, low: int, high: int) -> int | None:
    """value as an int within [low, high], or None (text, fractions, inf, NaN and bools are refused)."""
    if isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if isinstance(value, float) and value != number:
        return None
    return number if low <= number <= high else None


SWITCH_WORDS: dict[str, bool] = {w: True for w in ("1", "true", "yes", "on")} | {
    w: False for w in ("0", "false", "no", "off", "")
}


def switch(value: Any) -> str | None:
    """An on/off option as "true" or "false" (from a checkbox's bool or words like yes/no/1/0), or None."""
    on = value if isinstance(value, bool) else SWITCH_WORDS.get(str(value).strip().lower())
    return None if on is None else ("true" if on else "false")


SWITCH_LABELS = {"service_version": "Service detection (nmap -sV)", "tls_ciphers": "TLS cipher enumeration (nmap)"}


def check_options(name: str, given: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """One scanner's options with defaults filled in, and the errors keyed `<scanner>.<option>` (an option name
    that is not one of the scanner's is an error too: the API, the CLI and schedules share this rule)."""
    if not isinstance(given, dict):
        return dict(OPTION_DEFAULTS[name]), {name: f"The {name} options must be fields with values."}
    allowed = OPTION_DEFAULTS[name]
    errors = {
        f"{name}.{k}": f"{name} has no option {str(k)!r}; its options are: {', '.join(allowed)}."
        for k in sorted(given, key=str)
        if k not in allowed
    }  # a typo refused, never silently replaced by the default
    opts = {**allowed, **{k: v for k, v in given.items() if k in allowed}}
    if name == "portscan":
        try:
            parse_port_spec(opts["ports"])
            opts["ports"] = str(opts["ports"]).replace(" ", "")
        except ValueError as e:
            errors["portscan.ports"] = str(e)
        for key, label in SWITCH_LABELS.items():
            opts[key] = switch(opts[key])
            if opts[key] is None:
                errors[f"portscan.{key}"] = f"{label} is on or off: use true or false (or yes/no, 1/0)."
    elif name == "web":
        path = opts["path"] or "/"
        if not isinstance(path, str):
            path = ""
        bad = any(c in "#\\" or c.isspace() or not c.isprintable() for c in path)
        if not path.startswith("/") or len(path) > MAX_PATH_LENGTH or bad:
            errors["web.path"] = f"The path must start with / and have at most {MAX_PATH_LENGTH} characters, no spaces."
        opts["path"] = path
        opts["depth"] = whole_number(opts["depth"], 0, MAX_WEB_DEPTH)
        if opts["depth"] is None:
            errors["web.depth"] = f"The crawl depth must be a whole number from 0 to {MAX_WEB_DEPTH}."
    elif name == "tls":
        opts["port"] = whole_number(opts["port"], 0, 65535)
        if opts["port"] is None:
            errors["tls.port"] = "The TLS port must be a number from 1 to 65535 (0 = the URL's port or 443)."
    return opts, errors


def validate_request(
    target: str,
    email: str,
    scanners: dict[str, dict[str, Any]],
    policy: ScopePolicy,
    resolve: Resolver = system_resolver,
) -> ScanRequest:
    """A complete, allowed request, or RequestInvalid listing every problem at once."""
    errors: dict[str, str] = {}
    target = (target or "").strip()
    host = ""
    if not target:
        errors["target"] = "Enter the URL to scan, e.g. https://example.com/."
    else:
        try:
            decision = check_url(target, policy, resolve)
            target, host = decision.url, decision.host  # stored canonical: what was checked is what is kept
        except ScopeError as e:
            errors["target"] = str(e)
    try:
        email = check_email(email)
    except ValueError as e:
        errors["email"] = str(e)
    if not isinstance(scanners, dict):
        scanners = {}
    unknown = set(scanners) - set(SCANNERS)
    if unknown or not scanners:
        errors["scanners"] = f"Unknown scanner(s): {sorted(unknown)}" if unknown else "Choose at least one scanner."
    chosen: dict[str, dict[str, Any]] = {}
    for name in SCANNERS:
        if name in scanners:
            chosen[name], errs = check_options(name, scanners[name] or {})
            errors.update(errs)
    if not errors and payload_size(target, email, chosen) > WEBHOOK_MAX_PAYLOAD_BYTES:
        errors["target"] = (
            f"This request is larger than the {WEBHOOK_MAX_PAYLOAD_BYTES // 1024} KiB a scan request may be in "
            "the cluster: shorten the URL or the options."
        )
    if errors:
        raise RequestInvalid(errors)
    return ScanRequest(target=target, host=host, email=email, scanners=chosen)


def check_callback_url(url: str, policy: ScopePolicy, resolve: Resolver = system_resolver) -> str:
    """An optional URL to POST the final status to: "" or an http(s) URL the scope policy allows (it is an
    outgoing connection like any scanner's), or RequestInvalid on the field callback_url."""
    url = (url or "").strip()
    if not url:
        return ""
    if not url.lower().startswith(("http://", "https://")) or len(url) > MAX_CALLBACK_LENGTH:
        raise RequestInvalid({"callback_url": "The callback must be an http:// or https:// URL."})
    try:
        check_url(url, policy, resolve)
    except ScopeError as e:
        raise RequestInvalid({"callback_url": str(e)}) from None
    return url


def payload_size(target: str, email: str, scanners: dict[str, dict[str, Any]]) -> int:
    """Bytes of the webhook body this request becomes in cluster mode (scan ids are 12 characters)."""
    scan_id = "0" * 12
    return len(WebhookPayload(scan_id, workflow_parameters(scan_id, target, email, scanners)).encoded())
