"""A configuration the app cannot start with stops each entry point with a message naming the variable and
what it must be — never a traceback, never a secret's value."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from streamlit.testing.v1 import AppTest

from ui.runtime import get_runtime

ROOT = Path(__file__).resolve().parents[1]


def _env(tmp_path: Path, **bad: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("SCAN", "SMTP", "TOKEN", "LIMIT"))}
    return {**keep, "SCANBOARD_DATA_DIR": str(tmp_path / "data"), **bad}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_api_server_refuses_to_start_with_the_variable_named(tmp_path):
    env = _env(tmp_path, SCAN_WORKERS="0", SCANBOARD_SECRET_KEY="hunter2-never-shown", SMTP_PORT="smtp")
    argv = [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--port", str(_free_port())]
    proc = subprocess.run(
        argv, cwd=tmp_path, env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert "SCAN_WORKERS='0': Input should be greater than or equal to 1" in proc.stderr
    assert "SMTP_PORT='smtp'" in proc.stderr
    assert "Traceback" not in proc.stderr and "hunter2" not in proc.stderr


def test_the_portal_shows_the_bad_variable_instead_of_a_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("SCANBOARD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SCAN_WORKERS", "99")
    get_runtime.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    assert not at.exception
    [error] = at.error
    assert (
        "cannot start" in error.value and "SCAN\\_WORKERS" in error.value and "less than or equal to 32" in error.value
    )
