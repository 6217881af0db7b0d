"""The pipeline's step bodies, shared by both engines: the embedded engine calls them in threads and records
their state in the database; in the cluster each runs in its own pod through `python -m lib.engines.worker`."""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from lib.adapters.mail import Mailer
from lib.adapters.storage import ReportStore
from lib.core.findings import severity_counts
from lib.core.messages import report_email
from lib.core.scope import Resolver, ScopeError, ScopePolicy, check_url, system_resolver
from lib.engines.workspace import StepOutcome, Workspace
from lib.scanners import choose
from lib.scanners.base import ScanContext, ScannerError, ScannerResult


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def call_with_timeout(fn: Callable[[], Any], timeout: float, what: str) -> Any:
    """Run fn in a daemon thread; ScannerError if it does not finish in time (the thread is abandoned)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed over to the caller's thread
            box["error"] = e

    t = threading.Thread(target=target, daemon=True, name=f"step-{what}")
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise ScannerError(f"{what} timed out after {timeout:.0f} s")
    if "error" in box:
        raise box["error"]
    return box["result"]


def succeeded(step: str, result: ScannerResult) -> StepOutcome:
    """A scanner's result as its step's outcome, each finding tagged with the step that found it."""
    findings = [replace(f, steps=(step,)) for f in result.findings]
    counts = severity_counts(findings)
    summary = result.summary or ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no findings"
    return StepOutcome(
        step, "succeeded", result.tool, result.tool_version, summary, "", list(result.raw_files), findings
    )


def run_scanner(
    ws: Workspace,
    step: str,
    target: str,
    options: dict[str, Any],
    policy: ScopePolicy,
    timeout: float,
    log: Callable[[str], None] = lambda _: None,
    prefer: str = "",
    resolve: Resolver = system_resolver,
) -> StepOutcome:
    """Run one scanner step and store its outcome in the workspace. Never raises for a scanner problem: the
    outcome says failed with the reason, so the other scanners and the report still go ahead."""
    started = _now()
    tool = ""
    try:
        # again, right before scanning (DNS may have changed since the request); the scanner then connects
        # only to the addresses vetted here and never resolves the name itself
        decision = check_url(target, policy, resolve)
        scanner = choose(step, prefer)
        tool = scanner.tool
        log(f"{step}: running {scanner.tool} against {decision.host} at {', '.join(decision.addresses)}")
        ctx = ScanContext(ws.scan_id, decision.url, options, ws.raw_dir, timeout, log, decision.addresses, policy)
        result = call_with_timeout(lambda: scanner.run(ctx), timeout, f"{step} ({scanner.tool})")
    except ScopeError as e:
        outcome = StepOutcome(step, "failed", tool, message=f"target refused by the scope policy: {e}")
    except ScannerError as e:
        outcome = StepOutcome(step, "failed", tool, message=str(e))
    except Exception as e:  # noqa: BLE001 - a crashing scanner fails its own step only
        log(traceback.format_exc(limit=5))
        outcome = StepOutcome(step, "failed", tool, message=f"the scanner crashed: {type(e).__name__}: {e}")
    else:
        outcome = succeeded(step, result)
    outcome.started_at, outcome.finished_at = started, _now()
    log(f"{step}: {outcome.state}" + (f" — {outcome.message}" if outcome.message else f" — {outcome.summary}"))
    ws.write_step(outcome)
    return outcome


def publish(store: ReportStore, ws: Workspace) -> str:
    """Copy the report files to the report store; returns the scan's prefix there."""
    if not (ws.root / "report.pdf").is_file():
        raise FileNotFoundError("the report step left no report.pdf to publish")
    return store.publish(ws.scan_id, ws.root)


def notify(mailer: Mailer, store: ReportStore, ws: Workspace, email: str, counts: dict[str, int]) -> int:
    """Queue the "your report is ready" email (stored first, sent or retried by the mailer)."""
    meta = ws.read_meta()
    link = store.link(ws.scan_id, "report.pdf")
    subject, body = report_email(meta.target, ws.scan_id, link, counts)
    return mailer.enqueue("report", email, subject, body, link=link, scan_id=ws.scan_id)
