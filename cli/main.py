"""scanboard's CLI for pipelines: ask for a scan through the API, wait for it, write SARIF, and fail the build
on findings at or above a severity (only new ones with --new-only).

    SCANBOARD_TOKEN=sbk_… python -m cli scan https://app.example.com/ --scanners portscan,web,tls \\
        --wait --fail-on high --sarif scanboard.sarif

Exit codes: 0 nothing at or above the threshold, 1 findings at or above it, 2 an error (bad usage, the API
refused, the scan failed, a scanner failed without --allow-partial, or the wait timed out).
Progress goes to stderr; stdout has the scan id only.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from lib.core.findings import SEVERITIES, SEVERITY_RANK

OK, FOUND, ERROR = 0, 1, 2
FINAL = {"succeeded", "partial", "failed"}
DEFAULT_API = "http://127.0.0.1:8502"  # `make run`'s API_PORT; the portal (8501) is not the API
API_PATH = "/api/v1"
PROBLEM = "application/problem+json"  # every error our API answers is one (api/problems.py)


class CliError(Exception):
    """Ends the run with exit code 2 and this message."""


def positive_float(text: str) -> float:
    """An argparse type: a finite number of seconds above 0, so a bad value is refused (exit 2) before any
    request is made, not when the wait first sleeps."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of seconds above 0")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m cli", description="scanboard: security scans from a pipeline")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("scan", help="ask for a scan of URL (and wait for it with --wait)")
    s.add_argument("url")
    s.add_argument("--scanners", default="portscan,web,tls", help="comma-separated: portscan, web, tls")
    s.add_argument(
        "--option", action="append", default=[], metavar="SCANNER.NAME=VALUE", help="e.g. portscan.ports=1-1024"
    )
    s.add_argument(
        "--api",
        default=os.environ.get("SCANBOARD_API_URL", DEFAULT_API),
        help=f"the API's base URL (default $SCANBOARD_API_URL, else {DEFAULT_API})",
    )
    s.add_argument("--wait", action="store_true", help="wait until the scan has finished")
    s.add_argument("--fail-on", choices=[*SEVERITIES, "none"], default="none", help="exit 1 on findings this severe")
    s.add_argument("--new-only", action="store_true", help="count only findings new since the previous scan")
    s.add_argument("--allow-partial", action="store_true", help="exit 0 even when a scanner failed")
    s.add_argument("--sarif", type=Path, help="write the findings as SARIF 2.1.0 to this file")
    s.add_argument("--timeout", type=positive_float, default=3600.0, help="seconds to wait for the scan (default 3600)")
    s.add_argument("--poll", type=positive_float, default=2.0, help="seconds between status reads (default 2)")
    return p


def options(pairs: list[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        scanner, dot, name = key.partition(".")
        if not (eq and dot and scanner and name):
            raise CliError(f"--option {pair!r}: write it as SCANNER.NAME=VALUE, e.g. portscan.ports=1-1024")
        out.setdefault(scanner, {})[name] = int(value) if value.isdigit() else value
    return out


def problem(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return f"HTTP {resp.status_code}"
    return f"HTTP {resp.status_code}: {body.get('detail', body)}"


def not_our_api(resp: httpx.Response) -> bool:
    """An answer our API never gives: it answers errors as problem+json and everything else as JSON, so a web
    page, a bare 404/405 or any other body means --api points at something else (e.g. the portal)."""
    kind = resp.headers.get("content-type", "").split(";")[0].strip().lower()
    return kind != PROBLEM if resp.status_code >= 400 else not kind.endswith("json")


def call(client: httpx.Client, method: str, path: str, **kw: Any) -> httpx.Response:
    try:
        resp = client.request(method, path, **kw)
    except httpx.HTTPError as e:
        raise CliError(f"cannot reach the API at {client.base_url}: {e}") from None
    if not_our_api(resp):
        root = str(client.base_url).rstrip("/").removesuffix(API_PATH)
        raise CliError(
            f"{root} did not answer as the scanboard API (HTTP {resp.status_code}); is --api (or SCANBOARD_API_URL)"
            f" the API's URL, e.g. {DEFAULT_API}?"
        )
    if resp.status_code >= 400:
        raise CliError(problem(resp))
    return resp


class Progress:
    """A bar on a terminal, one line per change otherwise (CI logs)."""

    def __init__(self, stream: Any = sys.stderr) -> None:
        self.stream, self.tty, self.last = stream, stream.isatty(), ""

    def show(self, scan: dict[str, Any]) -> None:
        steps = [s for s in scan.get("steps", []) if s["state"] != "skipped"]
        done = sum(s["state"] in ("succeeded", "failed", "error", "omitted") for s in steps)
        running = ", ".join(s["name"] for s in steps if s["state"] == "running")
        line = f"scan {scan['id']}: {scan['status']} {done}/{len(steps)} steps" + (f" ({running})" if running else "")
        if self.tty:
            width = 20
            fill = int(width * done / len(steps)) if steps else 0
            self.stream.write(f"\r[{'#' * fill}{'-' * (width - fill)}] {line}\033[K")
        elif line != self.last:
            self.stream.write(line + "\n")
        self.stream.flush()
        self.last = line

    def end(self) -> None:
        if self.tty:
            self.stream.write("\n")


def wait(client: httpx.Client, scan_id: str, timeout: float, poll: float) -> dict[str, Any]:
    progress, deadline = Progress(), time.monotonic() + timeout
    try:
        while True:
            scan = call(client, "GET", f"/scans/{scan_id}").json()
            progress.show(scan)
            if scan["status"] in FINAL:
                return scan
            if time.monotonic() > deadline:
                raise CliError(f"scan {scan_id} did not finish within {timeout:.0f} s (status {scan['status']})")
            time.sleep(poll)
    finally:
        progress.end()


def verdict(findings: list[dict[str, Any]], fail_on: str, new_only: bool) -> list[dict[str, Any]]:
    """The findings that fail the build."""
    if fail_on == "none":
        return []
    rank = SEVERITY_RANK[fail_on]
    return [
        f
        for f in findings
        if SEVERITY_RANK.get(f["severity"], 99) <= rank and (not new_only or f.get("diff_state") == "new")
    ]


def scan(args: argparse.Namespace, token: str) -> int:
    if (args.sarif or args.fail_on != "none" or args.new_only) and not args.wait:
        raise CliError("--sarif, --fail-on and --new-only need --wait")
    scanners = [s.strip() for s in args.scanners.split(",") if s.strip()]
    body = {"target": args.url, "scanners": scanners, "options": options(args.option)}
    headers = {"Authorization": f"Bearer {token}", "User-Agent": "scanboard-cli"}
    with httpx.Client(base_url=args.api.rstrip("/") + API_PATH, headers=headers, timeout=30) as client:
        made = call(client, "POST", "/scans", json=body).json()
        print(made["id"])
        sys.stdout.flush()
        print(f"scan {made['id']} requested: {made['links']['page']}", file=sys.stderr)
        if made.get("ownership_instructions"):
            print(made["ownership_instructions"], file=sys.stderr)
        if not args.wait:
            return OK
        done = wait(client, made["id"], args.timeout, args.poll)
        if done["status"] == "failed":
            raise CliError(f"scan {made['id']} failed: {done['status_reason']}")
        if args.sarif:
            sarif = call(client, "GET", f"/scans/{made['id']}/findings", headers={"Accept": "application/sarif+json"})
            args.sarif.write_text(json.dumps(sarif.json(), indent=2))
            print(f"SARIF written to {args.sarif}", file=sys.stderr)
        found = call(client, "GET", f"/scans/{made['id']}/findings").json()["findings"]
    return report(done, found, args)


def report(done: dict[str, Any], found: list[dict[str, Any]], args: argparse.Namespace) -> int:
    counts = ", ".join(f"{n} {s}" for s, n in done["counts"].items() if n) or "no findings"
    print(f"scan {done['id']} {done['status']}: {counts}", file=sys.stderr)
    failing = verdict(found, args.fail_on, args.new_only)
    for f in failing:
        print(f"  {f['severity'].upper():8} {f['title']} ({f.get('diff_state', '')})", file=sys.stderr)
    if failing:
        which = "new " if args.new_only else ""
        print(f"{len(failing)} {which}finding(s) at or above {args.fail_on}: failing", file=sys.stderr)
        return FOUND
    if done["status"] == "partial" and not args.allow_partial:  # a scanner that did not run found nothing
        raise CliError(f"incomplete scan, {done['status_reason']} (--allow-partial accepts it)")
    return OK


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    token = os.environ.get("SCANBOARD_TOKEN", "").strip()
    try:
        if not token:
            raise CliError("set SCANBOARD_TOKEN to an API token (create one on the portal's API tokens page)")
        return scan(args, token)
    except CliError as e:
        print(f"error: {e}", file=sys.stderr)
        return ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return ERROR
