"""`make serve` (what `make run` runs once the virtualenv exists) serves the portal and the API side by side,
and one Ctrl-C (SIGINT to the foreground process group) stops both."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.api_server import free_port
from tests.conftest import wait_until

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_make_serve_starts_portal_and_api_and_ctrl_c_stops_both(tmp_path) -> None:
    portal, api = free_port(), free_port()
    venv = Path(sys.executable).parent.parent
    env = {**os.environ, "SCANBOARD_DATA_DIR": str(tmp_path / "data"), "PUBLIC_BASE_URL": f"http://127.0.0.1:{portal}"}
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "serve", f"PORT={portal}", f"API_PORT={api}", f"VENV={venv}"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until(lambda: healthy(f"http://127.0.0.1:{api}/api/v1/health"), timeout=60, interval=0.3)
        wait_until(lambda: healthy(f"http://127.0.0.1:{portal}/_stcore/health"), timeout=60, interval=0.3)
        doc = httpx.get(f"http://127.0.0.1:{api}/api/v1/openapi.json").json()
        assert doc["info"]["title"] == "scanboard API"
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        proc.wait(timeout=30)
        wait_until(lambda: not listening(api) and not listening(portal), timeout=15)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
