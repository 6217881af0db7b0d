"""One pipeline step in a pod: `python -m lib.worker <step> ...`, as the WorkflowTemplate calls it.

The same step bodies as the embedded engine (lib.engines.steps, lib.engines.report); the steps share the scan's
folder on the
RWX work volume, and the report store and mail transport come from lib.runtime, chosen by mode as the portal's
are (argo: the S3 bucket REPORTS_BUCKET; embedded: the local reports folder).
Exit status: 0 when the step did its job, 1 when it failed (Argo marks the task failed; the report still runs
after a failed scanner), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lib.adapters.storage import ReportStore, portal_reports_url, read_findings
from lib.config import Settings, load_settings
from lib.core.exports import defectdojo_json, findings_csv
from lib.core.findings import Finding
from lib.core.messages import report_email
from lib.core.pipeline import SCANNERS
from lib.core.scope import ScopeError, check_url
from lib.engines.pod_pinning import NOTHING_TO_PIN, PinningError, pinning_patch
from lib.engines.report import build_report
from lib.engines.steps import publish, run_scanner, succeeded
from lib.engines.workspace import ScanMeta, StepOutcome, Workspace
from lib.runtime import build_store, build_transport  # the pod's adapters, chosen as the portal's are
from lib.scanners.base import ScanContext, ScannerError
from lib.scanners.zap import parse_zap_file

log = logging.getLogger("scanboard.worker")
SEND_TRIES = 3
WORKDIR_HELP = "the folder holding <scan-id>/ folders (the work volume, e.g. data/work), not a scan's own folder"


def parse_options(pairs: list[str]) -> dict[str, str]:
    opts = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--opt wants key=value, got {pair!r}")
        opts[key] = value
    return opts


def _requested_marker(ws: Workspace, step: str) -> Path:
    return ws.root / "steps" / f"{step}.requested.json"


def cmd_scan(a: argparse.Namespace, s: Settings) -> int:
    ws = Workspace(a.workdir, a.scan_id)
    opts = parse_options(a.opt)
    marker = _requested_marker(ws, a.step)  # tells the report this scanner was asked for, even if it dies
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(opts))
    out = run_scanner(ws, a.step, a.target, opts, s.scope_policy(), s.scanner_timeout_seconds, print)
    return 0 if out.state == "succeeded" else 1


def cmd_scope(a: argparse.Namespace, s: Settings) -> int:
    """Before a tool in another image (ZAP) scans the target, the pod before it checks the scope policy, as
    every scanner of ours does; a refused target records the step as failed with the reason and the tool never
    runs (the steps stop at a failed pod)."""
    ws = Workspace(a.workdir, a.scan_id)
    _requested_marker(ws, a.step).parent.mkdir(parents=True, exist_ok=True)
    _requested_marker(ws, a.step).write_text("{}")
    try:
        decision = check_url(a.target, s.scope_policy())
        if decision.url != a.target:  # the tool is given the target as written: it must be the name we pin
            raise ScopeError(f"the target must be given in its canonical form, {decision.url}")
        patch = pinning_patch(decision)
    except (ScopeError, PinningError) as e:
        ws.write_step(StepOutcome(a.step, "failed", a.tool, message=f"target refused by the scope policy: {e}"))
        _write_pod_patch(a.pod_patch, NOTHING_TO_PIN)
        print(f"{a.step}: refused — {e}")
        return 1
    _write_pod_patch(a.pod_patch, patch)
    print(f"{a.step}: {decision.url} in scope ({', '.join(decision.addresses)})")
    return 0


def _write_pod_patch(path: Path | None, patch: dict[str, Any]) -> None:
    """The scope pod's output parameter: the podSpecPatch of the tool's pod (lib.engines.pod_pinning)."""
    if path is not None:
        path.write_text(json.dumps(patch, separators=(",", ":")))


def cmd_parse(a: argparse.Namespace, s: Settings) -> int:
    """A tool that ran in its own image (ZAP) left its report on the work volume: parse it into the step."""
    ws = Workspace(a.workdir, a.scan_id)
    _requested_marker(ws, a.step).parent.mkdir(parents=True, exist_ok=True)
    _requested_marker(ws, a.step).write_text("{}")
    ctx = ScanContext(a.scan_id, a.target, {}, ws.raw_dir, s.scanner_timeout_seconds, print)
    try:
        result = parse_zap_file(Path(a.input), ctx)
    except ScannerError as e:
        ws.write_step(StepOutcome(a.step, "failed", a.tool, message=str(e)))
        print(f"{a.step}: failed — {e}")
        return 1
    ws.write_step(succeeded(a.step, result))
    return 0


def requested_scanners(ws: Workspace) -> dict[str, dict]:
    out = {}
    for name in SCANNERS:
        marker = _requested_marker(ws, name)
        if marker.is_file():
            out[name] = json.loads(marker.read_text() or "{}")
    return out


def previous_findings(store: ReportStore, host: str, scan_id: str) -> tuple[str, list[Finding], frozenset[str]]:
    """The host's previous published scan: its id, open findings and the scanners that succeeded in it."""
    prev_id = store.latest(host)
    if not prev_id or prev_id == scan_id:
        return "", [], frozenset()
    doc = read_findings(store, prev_id) or {}
    ok = frozenset(str(s.get("step")) for s in doc.get("steps", []) if s.get("state") == "succeeded")
    return prev_id, [Finding.from_dict(d) for d in doc.get("findings", [])], ok


def cmd_report(a: argparse.Namespace, s: Settings) -> int:
    ws = Workspace(a.workdir, a.scan_id)
    if not (ws.root / "scan.json").is_file():
        ws.write_meta(ScanMeta(a.scan_id, a.target, a.email, requested_scanners(ws)))
    store = build_store(s)
    prev_id, prev, prev_ok = previous_findings(store, urlsplit(a.target).hostname or "", a.scan_id)
    result = build_report(ws, prev, prev_id, previous_succeeded=prev_ok)
    print(f"report: {len(result.findings)} finding(s), counts {result.counts}, diff {result.diff.counts()}")
    return 0


def findings_file(ws: Workspace) -> Path:
    """The scan's findings.json; when it is missing, say where it was looked for and what --workdir is."""
    path = ws.root / "findings.json"
    if not path.is_file():
        raise FileNotFoundError(f"no findings file at {path}: --workdir is {WORKDIR_HELP}")
    return path


def workdir_mistake(args: argparse.Namespace) -> str | None:
    """The usual mistake, caught before any step writes: --workdir naming a scan's own folder (data/work/<id>,
    which holds its scan.json or steps/), where the folder holding it was meant."""
    workdir, scan_id = getattr(args, "workdir", None), getattr(args, "scan_id", "")
    if workdir is None or not scan_id or workdir.name != scan_id or (workdir / scan_id).exists():
        return None
    if not ((workdir / "scan.json").is_file() or (workdir / "steps").is_dir()):
        return None
    own = f"--workdir {workdir} is scan {scan_id}'s own folder"
    return f"{own}: --workdir is {WORKDIR_HELP}; did you mean --workdir {workdir.parent}?"


def cmd_export(a: argparse.Namespace, s: Settings) -> int:
    """DefectDojo JSON or CSV from a findings.json (this scan's, or any stored one given with --input)."""
    source = Path(a.input) if a.input else findings_file(Workspace(a.workdir, a.scan_id))
    doc = json.loads(source.read_text())
    if not isinstance(doc, dict) or "findings" not in doc:
        print(f"export: {source} is not a scanboard findings.json", file=sys.stderr)
        return 2
    text = json.dumps(defectdojo_json(doc), indent=2) if a.format == "defectdojo" else findings_csv(doc)
    Path(a.output).write_text(text, newline="")
    print(f"export: {len(doc['findings'])} finding(s) as {a.format} to {a.output}")
    return 0


def cmd_publish(a: argparse.Namespace, s: Settings) -> int:
    ws = Workspace(a.workdir, a.scan_id)
    store = build_store(s)
    prefix = publish(store, ws)
    store.set_latest(urlsplit(ws.read_meta().target).hostname or "", a.scan_id)
    print(f"publish: stored under {prefix}")
    return 0


def cmd_notify(a: argparse.Namespace, s: Settings) -> int:
    """Send the report mail; on failure exit 1 so Argo retries, and the portal queues it again when it sees
    the failed task (its mail is stored and retried), so the mail is never lost."""
    ws = Workspace(a.workdir, a.scan_id)
    doc = json.loads(findings_file(ws).read_text())
    store = build_store(s)
    subject, body = report_email(
        ws.read_meta().target,
        a.scan_id,
        store.link(a.scan_id, "report.pdf"),
        doc.get("counts", {}),
        portal_reports_url(s.public_base_url, a.scan_id),
    )
    transport = build_transport(s)
    if transport is None:
        print("notify: no SMTP_HOST configured; the portal delivers the report mail to its outbox")
        return 1
    for attempt in range(1, SEND_TRIES + 1):
        try:
            transport.send(a.email, subject, body)
            print(f"notify: report mail sent to {a.email}")
            return 0
        except Exception as e:  # noqa: BLE001 - any SMTP failure: try again, then let Argo retry
            print(f"notify: attempt {attempt} failed: {type(e).__name__}: {e}")
            time.sleep(min(30, 2**attempt))
    return 1


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m lib.worker", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser, target: bool = False, email: bool = False) -> None:
        sp.add_argument("--scan-id", required=True)
        sp.add_argument("--workdir", required=True, type=Path, help=WORKDIR_HELP)
        if target:
            sp.add_argument("--target", required=True)
        if email:
            sp.add_argument("--email", required=True)

    scan = sub.add_parser("scan", help="run one scanner")
    scan.add_argument("step", choices=SCANNERS)
    scan.add_argument("--opt", action="append", default=[], help="scanner option key=value (repeatable)")
    common(scan, target=True)
    scope = sub.add_parser("scope", help="check the target against the scope policy before another image scans it")
    scope.add_argument("step", choices=["web"])
    scope.add_argument("--tool", choices=["zap"], required=True)
    scope.add_argument(
        "--pod-patch", type=Path, help="write the tool pod's podSpecPatch pinning the approved addresses"
    )
    common(scope, target=True)
    parse = sub.add_parser("parse", help="parse a report another image wrote (ZAP)")
    parse.add_argument("step", choices=["web"])
    parse.add_argument("--tool", choices=["zap"], required=True)
    parse.add_argument("--input", required=True)
    common(parse, target=True)
    common(sub.add_parser("report", help="build findings.json and the PDF"), target=True, email=True)
    export = sub.add_parser("export", help="findings as DefectDojo Generic Findings Import JSON or CSV")
    export.add_argument("--format", choices=["defectdojo", "csv"], required=True)
    export.add_argument("--output", required=True)
    export.add_argument(
        "--input", default="", help="a findings.json (default: the scan's own, WORKDIR/SCAN_ID/findings.json)"
    )
    common(export)
    common(sub.add_parser("publish", help="copy the report to the report store"))
    common(sub.add_parser("notify", help="mail the report link"), email=True)
    return p


COMMANDS = {
    "scan": cmd_scan,
    "scope": cmd_scope,
    "parse": cmd_parse,
    "report": cmd_report,
    "export": cmd_export,
    "publish": cmd_publish,
    "notify": cmd_notify,
}


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    mistake = workdir_mistake(args)
    if mistake:
        print(f"{args.command}: {mistake}", file=sys.stderr)
        return 2
    try:
        return COMMANDS[args.command](args, load_settings())
    except Exception as e:  # noqa: BLE001 - one readable line in the pod log; Argo retries on the exit code
        print(f"{args.command}: failed — {type(e).__name__}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
