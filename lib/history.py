"""Scan history as a pandas frame: one row per scan with its outcome, duration and findings by severity."""

from __future__ import annotations

import pandas as pd

from lib.findings import SEVERITIES
from lib.models import Scan

COLUMNS = ["scan", "target", "host", "requester", "status", "requested", "confirmed", "started", "finished",
           "duration_s", "scanners", *SEVERITIES]


def scans_frame(scans: list[Scan]) -> pd.DataFrame:
    rows = []
    for s in scans:
        counts = s.severity_counts or {}
        duration = (s.finished_at - s.started_at).total_seconds() if s.finished_at and s.started_at else None
        rows.append({"scan": s.id, "target": s.target, "host": s.host, "requester": s.requester_email,
                     "status": s.status, "requested": s.created_at, "confirmed": s.confirmed_at,
                     "started": s.started_at, "finished": s.finished_at, "duration_s": duration,
                     "scanners": ", ".join(sorted(s.scanners or {})),
                     **{sev: int(counts.get(sev, 0)) for sev in SEVERITIES}})
    return pd.DataFrame(rows, columns=COLUMNS)
