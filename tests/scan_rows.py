"""A finished scan row as the engine leaves it, for tests that start from one (callbacks, notifications)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from lib.adapters.models import SUCCEEDED, Scan, utcnow


def add_finished_scan(sessions: sessionmaker[Session], scan_id: str, **fields: Any) -> None:
    now = utcnow()
    row: dict[str, Any] = {
        "target": "http://127.0.0.1/",
        "host": "127.0.0.1",
        "requester_email": "ci@example.com",
        "scanners": {"web": {}},
        "status": SUCCEEDED,
        "status_reason": "",
        "created_at": now,
        "confirmed_at": now,
        "finished_at": now,
    }
    with sessions.begin() as s:
        s.add(Scan(id=scan_id, **{**row, **fields}))
