"""The scanner interface every tool adapter implements, for both engines.

A scanner runs against one target with its options, keeps its raw output in `raw_dir`, and returns normalised
findings. It raises `ScannerError` with a reason a user can read when it cannot do its job (tool crashed,
timed out, output unparseable); the engine fails that step only and the other scanners carry on.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from lib.core.findings import Finding
from lib.core.scope import ScopePolicy


class ScannerError(Exception):
    """A scanner could not produce a result; the message says why, for the progress page and the report."""


@dataclass
class ScanContext:
    scan_id: str
    target: str  # the URL the user asked for
    options: dict[str, Any]
    raw_dir: Path
    timeout: float = 300.0
    log: Callable[[str], None] = lambda line: None
    addresses: tuple[str, ...] = ()  # the scope decision's vetted addresses: the only ones a scanner connects to
    policy: ScopePolicy = field(default_factory=ScopePolicy)  # what each redirect hop is checked against

    def pinned(self) -> tuple[socket.AddressFamily, str]:
        """The vetted address to connect to, never a fresh DNS answer (which could have been rebound).

        A context built without a scope decision has only the target's own IP literal; a name is refused."""
        ip = self.addresses[0] if self.addresses else self.host
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            raise ScannerError(f"No vetted address for {self.host!r}: the scope check did not run.") from None
        return (socket.AF_INET6 if addr.version == 6 else socket.AF_INET), str(addr)

    @property
    def host(self) -> str:
        return urlsplit(self.target).hostname or ""

    @property
    def scheme(self) -> str:
        return urlsplit(self.target).scheme

    @property
    def port(self) -> int:
        parts = urlsplit(self.target)
        return parts.port or (443 if parts.scheme == "https" else 80)


@dataclass
class ScannerResult:
    tool: str
    tool_version: str
    findings: list[Finding]
    raw_files: list[str] = field(default_factory=list)  # names relative to raw_dir
    summary: str = ""  # one line for the step log and the report, e.g. "3 open ports of 1024"


class Scanner(Protocol):
    step: str  # the pipeline step it serves: portscan | web | tls
    tool: str

    def available(self) -> bool:
        """True when the tool can run here (binary installed, module importable)."""

    def run(self, ctx: ScanContext) -> ScannerResult:
        """Scan, keep raw output under ctx.raw_dir, return findings; raise ScannerError on failure."""
