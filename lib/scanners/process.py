"""Running an external scanner: one place that applies the timeout, keeps the output and names the failure.

Every tool adapter calls `run_tool`, so a missing binary, a crash, a non-zero exit or a timeout becomes a
`ScannerError` with a reason a user can read (and the tail of the tool's stderr), never a hung step or a
traceback. The tool runs in its own process group, so a timeout kills the tool and any children it started.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from lib.scanners.base import ScannerError

STDERR_TAIL = 600  # characters of stderr quoted in an error message


@dataclass(frozen=True)
class ToolRun:
    returncode: int
    stdout: str
    stderr: str
    seconds: float


def run_tool(
    cmd: Sequence[str],
    *,
    timeout: float,
    raw_dir: Path | None = None,
    name: str = "",
    stdout_file: str = "",
    stderr_file: str = "",
    ok_codes: Sequence[int] = (0,),
    env: dict[str, str] | None = None,
    log: Callable[[str], None] = lambda line: None,
) -> ToolRun:
    """Run `cmd` (never through a shell) with a timeout; raise ScannerError on missing tool, timeout or bad exit.

    `stdout_file`/`stderr_file` (names inside `raw_dir`) keep the tool's output beside the findings.
    """

    tool = name or Path(cmd[0]).name
    log(f"$ {' '.join(cmd)}")
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            list(cmd),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
            start_new_session=True,
            env={**os.environ, **env} if env else None,
        )
    except FileNotFoundError as exc:
        raise ScannerError(f"{tool} is not installed (cannot run {cmd[0]!r}).") from exc
    except OSError as exc:
        raise ScannerError(f"{tool} could not start: {exc}") from exc
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, err = proc.communicate()
        _keep(raw_dir, stdout_file, out)
        _keep(raw_dir, stderr_file, err)
        raise ScannerError(f"{tool} timed out after {timeout:g} s and was stopped.") from None
    seconds = time.monotonic() - started
    _keep(raw_dir, stdout_file, out)
    _keep(raw_dir, stderr_file, err)
    if proc.returncode not in ok_codes:
        how = (
            f"was killed by signal {-proc.returncode}" if proc.returncode < 0 else f"exited with code {proc.returncode}"
        )
        tail = err.strip()[-STDERR_TAIL:] or out.strip()[-STDERR_TAIL:]
        raise ScannerError(f"{tool} {how}" + (f": {tail}" if tail else "."))
    return ToolRun(proc.returncode, out, err, seconds)


def tool_version(cmd: Sequence[str], pattern: str = r"(\d+(?:\.\d+)+\S*)", timeout: float = 20.0) -> str:
    """The version a tool prints for `cmd` (e.g. ["nmap", "--version"]), or "" when it cannot tell."""
    try:
        run = subprocess.run(
            list(cmd), capture_output=True, text=True, errors="replace", timeout=timeout, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    m = re.search(pattern, run.stdout + run.stderr)
    return m.group(1) if m else ""


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


def _keep(raw_dir: Path | None, name: str, text: str | None) -> None:
    if raw_dir is not None and name and text:
        raw_dir.mkdir(parents=True, exist_ok=True)
        (raw_dir / name).write_text(text)
