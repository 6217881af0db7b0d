"""The Streamlit settings a portal user meets: read by Streamlit's own config loader from the repository root, as
`make run`, the browser tests and the image start it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OPTIONS = ("client.toolbarMode", "client.showErrorDetails", "server.enableAgentApi", "browser.gatherUsageStats")


def _effective_options() -> dict[str, object]:
    code = (
        "import json, sys; from streamlit import config; config.get_config_options(force_reparse=True); "
        f"print(json.dumps({{k: config.get_option(k) for k in {list(OPTIONS)!r}}}))"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_viewers_get_the_viewer_toolbar_no_tracebacks_and_no_agent_api() -> None:
    assert _effective_options() == {
        "client.toolbarMode": "viewer",
        "client.showErrorDetails": "none",
        "server.enableAgentApi": False,
        "browser.gatherUsageStats": False,
    }


def test_the_image_ships_the_settings() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".streamlit" not in ignored and ".streamlit/config.toml" not in ignored
    assert ".streamlit/secrets.toml" in ignored
