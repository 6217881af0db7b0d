"""Which tool serves each scanner step: the first available in preference order (real tools before builtins)."""

from __future__ import annotations

from importlib import import_module

from lib.scanners.base import Scanner

# step -> "module:Class" in preference order; the last entry of each step is a builtin that always runs.
PREFERENCE: dict[str, tuple[str, ...]] = {
    "portscan": ("lib.scanners.nmap:NmapScanner", "lib.scanners.portscan_builtin:BuiltinPortScanner"),
    "web": ("lib.scanners.zap:ZapScanner", "lib.scanners.http_baseline:HttpBaseline"),
    "tls": ("lib.scanners.sslyze_tls:SslyzeScanner", "lib.scanners.tls_builtin:BuiltinTls"),
}


def _load(ref: str) -> Scanner:
    module, cls = ref.split(":")
    return getattr(import_module(module), cls)()


def choose(step: str, prefer: str = "") -> Scanner:
    """The scanner for a step: `prefer` (a tool name) when available, else the first available one."""
    candidates = [_load(ref) for ref in PREFERENCE[step]]
    for s in candidates:
        if s.tool == prefer and s.available():
            return s
    return next(s for s in candidates if s.available())
