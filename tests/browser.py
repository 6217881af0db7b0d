"""Helpers for browser tests: the portal under `streamlit run` on a free port, and Debian's Chromium driven by
Playwright (never `playwright install`: the browser comes from apt)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import requests

from tests.smtp_server import free_port

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = ROOT / "test-artifacts"


@contextlib.contextmanager
def portal(data_dir: Path, port: int = 0, args: tuple[str, ...] = (), **env: str) -> Iterator[str]:
    """`streamlit run app.py` with its own data dir (on `port`, else a free one; extra `args` for streamlit);
    yields its base URL once /_stcore/health answers."""
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    full_env = {**os.environ, "SCANBOARD_DATA_DIR": str(data_dir), "PUBLIC_BASE_URL": base, **env}
    full_env.pop("SMTP_HOST", None)
    log = open(data_dir.parent / "streamlit.log", "wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.headless=true",
            f"--server.port={port}",
            "--server.address=127.0.0.1",
            "--browser.gatherUsageStats=false",
            *args,
        ],
        cwd=ROOT,
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{base}/_stcore/health", timeout=1).ok:
                    break
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("streamlit did not start: " + (data_dir.parent / "streamlit.log").read_text())
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        proc.kill()
        log.close()


def wait_for_app(page) -> None:
    """Wait until Streamlit has drawn the app and finished running the script."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=30_000)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " || !document.querySelector('[data-testid=\"stStatusWidget\"]').innerText.includes('Running')",
        timeout=30_000,
    )
