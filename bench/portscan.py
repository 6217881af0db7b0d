"""Benchmark: the builtin port scanner against `nmap -sT -T4 -p-` on the same loopback targets, in the same run.

Starts listeners on 127.0.0.1 (a spread of fixed ports where free, plus kernel-chosen ones), then alternates
full 1-65535 sweeps by both scanners (`--rounds`, default 3) and compares the open-port sets of each pair of
back-to-back runs. Prints both median times and, as its last line,
`ratio=<builtin/nmap> identical=<true|false>`. Goal: ratio <= 2 with identical results.

Where `unshare` can make a network namespace (root, or user namespaces allowed), the benchmark re-runs itself
in a fresh one whose loopback holds only the benchmark's listeners: other programs' ports coming and going
between two sweeps would otherwise make the comparison flaky. `--shared-network` turns that off.

    python bench/portscan.py [--rounds 3] [--listeners 20] [--shared-network]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib.scanners.base import ScanContext
from lib.scanners.nmap import parse_nmap_xml
from lib.scanners.portscan_builtin import BuiltinPortScanner
from tests.targets import open_ports

HOST = "127.0.0.1"
SPREAD = [1, 22, 443, 1023, 8080, 31337, 49152, 65535]  # used when free, to cover both ends of the range


def free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((HOST, port))
            return True
        except OSError:
            return False


def builtin_scan(raw_dir: Path) -> tuple[float, set[int]]:
    ctx = ScanContext(
        scan_id="bench", target=f"http://{HOST}/", options={"ports": "1-65535"}, raw_dir=raw_dir, timeout=300
    )
    started = time.perf_counter()
    result = BuiltinPortScanner().run(ctx)
    return time.perf_counter() - started, {f.asset.port for f in result.findings if f.asset.port is not None}


def nmap_scan() -> tuple[float, set[int]]:
    started = time.perf_counter()
    run = subprocess.run(
        ["nmap", "-sT", "-T4", "-p-", "-oX", "-", HOST], capture_output=True, text=True, timeout=300, check=True
    )
    elapsed = time.perf_counter() - started
    report = parse_nmap_xml(run.stdout)
    return elapsed, {p.port for ports in report.hosts.values() for p in ports}


NETNS_FLAG = "SCANBOARD_BENCH_NETNS"


def rerun_in_own_network() -> int | None:
    """Run this script again in a new network namespace with loopback up; None when that is not possible."""
    if os.environ.get(NETNS_FLAG) or not shutil.which("unshare") or not shutil.which("ip"):
        return None
    unshare = ["unshare", "-n"] if os.geteuid() == 0 else ["unshare", "-rn"]
    probe = subprocess.run([*unshare, "ip", "link", "set", "lo", "up"], capture_output=True)
    if probe.returncode != 0:
        return None
    script = 'ip link set lo up && exec "$0" "$@"'
    return subprocess.call(
        [*unshare, "sh", "-c", script, sys.executable, *sys.argv], env={**os.environ, NETNS_FLAG: "1"}
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--listeners", type=int, default=20, help="kernel-chosen listening ports besides the spread")
    ap.add_argument("--shared-network", action="store_true", help="do not isolate in a network namespace")
    args = ap.parse_args()
    if shutil.which("nmap") is None:
        print("nmap is not installed (apt-get install nmap)", file=sys.stderr)
        return 2
    if not args.shared_network:
        rc = rerun_in_own_network()
        if rc is not None:
            return rc
    print(
        "network: "
        + (
            "own namespace (only the benchmark's listeners)"
            if os.environ.get(NETNS_FLAG)
            else "shared with the rest of the machine"
        )
    )
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        ours = stack.enter_context(open_ports(ports=[p for p in SPREAD if free(p)]))
        ours += stack.enter_context(open_ports(args.listeners))
        print(f"targets: {len(ours)} listening ports on {HOST} (e.g. {sorted(ours)[:6]}...)")
        times_builtin, times_nmap, identical = [], [], True
        for i in range(args.rounds):
            tb, found_b = builtin_scan(Path(tmp) / f"r{i}")
            tn, found_n = nmap_scan()
            times_builtin.append(tb)
            times_nmap.append(tn)
            same = found_b == found_n
            missed = set(ours) - found_b
            identical &= same and not missed
            differ = (
                ""
                if same
                else f"  DIFFER: only builtin {sorted(found_b - found_n)}, only nmap {sorted(found_n - found_b)}"
            )
            print(
                f"round {i + 1}: builtin {tb:.2f} s ({len(found_b)} open), nmap {tn:.2f} s ({len(found_n)} open)"
                f"{differ}{f'  builtin missed {sorted(missed)}' if missed else ''}"
            )
    b, n = statistics.median(times_builtin), statistics.median(times_nmap)
    print(f"builtin median {b:.2f} s, nmap median {n:.2f} s over {args.rounds} rounds of 65535 ports")
    print(f"ratio={b / n:.2f} identical={'true' if identical else 'false'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
