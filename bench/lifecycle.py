"""Confirm -> report stored, for a loopback target with every scanner, on the embedded engine.

Goal (issue 2): <= 15 s. Prints each step's duration and, as its last line, `seconds=<t>`.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib.adapters.repository import get_scan, get_steps
from lib.config import Settings
from lib.runtime import build_runtime
from lib.services.intake import confirm, submit
from tests.targets import http_target, open_ports, tls_target


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, open_ports(3) as ports, http_target() as web, tls_target() as tls:
        rt = build_runtime(Settings(scanboard_data_dir=Path(tmp), _env_file=None)).start()
        try:
            scanners: dict[str, dict[str, Any]] = {
                "portscan": {"ports": "1-1024," + ",".join(map(str, ports))},
                "web": {"depth": 1},
                "tls": {"port": tls},
            }
            out = submit(rt, f"http://127.0.0.1:{web}/", "bench@example.com", scanners)
            token = parse_qs(urlsplit(rt.mailer.messages()[0].link).query)["token"][0]
            t0 = time.perf_counter()
            assert confirm(rt, token).ok
            while not (rt.store.list_reports() and (scan := get_scan(rt.sessions, out.scan_id)) and scan.report_key):
                time.sleep(0.05)
            seconds = time.perf_counter() - t0
            for s in get_steps(rt.sessions, out.scan_id):
                took = (s.finished_at - s.started_at).total_seconds() if s.finished_at and s.started_at else None
                print(f"{s.name:9} {s.state:10} {s.tool:20} {took if took is None else round(took, 2)} s")
            print(f"goal <= 15 s: {'met' if seconds <= 15 else 'NOT met'}")
            print(f"seconds={seconds:.2f}")
        finally:
            rt.stop()


if __name__ == "__main__":
    main()
