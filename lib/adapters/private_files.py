"""The data folder and the SQLite file hold live confirmation links and report data: owner-only (0700 / 0600),
whatever the umask, and tightened when an older version left them world-readable."""

from __future__ import annotations

import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create `path` (and parents) if missing; the folder itself is made owner-only."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.chmod(path, DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create `path` empty if missing (never truncate), owner-only. A missing folder is created owner-only; an
    existing one is left as it is: DATABASE_URL may name a file in a shared folder (/tmp, /var/lib), and making
    that folder 0700 would lock every other user and service out of it (the data folder is private_dir's job)."""
    path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, FILE_MODE))
    os.chmod(path, FILE_MODE)
    return path
