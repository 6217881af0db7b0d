"""The code stays within the project's lint rules (ruff.toml): unused code, import order, bug patterns,
blind excepts without a stated reason."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_finds_nothing() -> None:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or "ruff"
    run = subprocess.run([ruff, "check", "--output-format=concise", "."], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
