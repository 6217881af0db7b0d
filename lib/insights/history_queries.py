"""Scan history, the database half: the filters a manager picks, and the SQL reads they drive (SQLAlchemy Core).

Why a per-process store of "scan facts": the history page must answer any filter over 100,000 scans at once, and
reading that many rows (JSON counts, text datetimes in SQLite) costs about a second whatever the SQL. Finished scans
never change, so `ScanFacts` loads one narrow frame once and then, at most every `ttl_s`, fetches only what can
have changed (new scans, scans not yet finished). The table and the CSV export read their rows from the database
with the same filters in SQL. The aggregates over the facts are lib.insights.history_aggregates.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from time import monotonic
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import ColumnElement, Select, String, Text, and_, cast, func, or_, select, type_coerce
from sqlalchemy.orm import Session, sessionmaker

from lib.adapters.models import FINAL_STATUSES, SCAN_STATUSES, Scan, Step
from lib.core.findings import SEVERITIES
from lib.core.pipeline import SCANNERS
from lib.core.roles import Viewer
from lib.core.text import csv_cell

DEFAULT_DAYS = 30
DIFF_KEYS = ("new", "fixed")


# ------------------------------------------------------------------------------------------------ filters


def _csv(values: tuple[str, ...]) -> str:
    return ",".join(values)


def _items(text: str | None, allowed: tuple[str, ...]) -> tuple[str, ...]:
    picked = {x.strip() for x in (text or "").split(",") if x.strip()}
    return tuple(v for v in allowed if v in picked)


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


@dataclass(frozen=True)
class HistoryFilters:
    """What the manager is looking at. Hashable (the page's cache key) and kept in the URL as plain strings.

    start/end are inclusive days (UTC) of the request time; domain matches the host or any subdomain of it;
    statuses/scanners: empty means all (a scan matches when it requested any of the chosen scanners).
    """

    start: date | None = None
    end: date | None = None
    domain: str = ""
    requester: str = ""
    statuses: tuple[str, ...] = ()
    scanners: tuple[str, ...] = ()

    @classmethod
    def default(cls, today: date | None = None) -> HistoryFilters:
        today = today or datetime.now(UTC).date()
        return cls(start=today - timedelta(days=DEFAULT_DAYS - 1), end=today)

    @classmethod
    def from_query_params(cls, params: Mapping[str, str], today: date | None = None) -> HistoryFilters:
        """Parse the URL's query parameters; anything missing or malformed falls back to the default view."""
        d = cls.default(today)
        start, end = _day(params.get("from")) or d.start, _day(params.get("to")) or d.end
        if start and end and start > end:
            start, end = end, start
        return cls(
            start=start,
            end=end,
            domain=(params.get("domain") or "").strip().lower().strip(".")[:255],
            requester=(params.get("requester") or "").strip()[:320],
            statuses=_items(params.get("status"), SCAN_STATUSES),
            scanners=_items(params.get("scanner"), SCANNERS),
        )

    def to_query_params(self) -> dict[str, str]:
        """The non-empty filters as URL query parameters (the inverse of from_query_params)."""
        out = {
            "from": self.start.isoformat() if self.start else "",
            "to": self.end.isoformat() if self.end else "",
            "domain": self.domain,
            "requester": self.requester,
            "status": _csv(self.statuses),
            "scanner": _csv(self.scanners),
        }
        return {k: v for k, v in out.items() if v}

    def normalised(self) -> HistoryFilters:
        return HistoryFilters.from_query_params(self.to_query_params(), today=self.end or self.start)

    def visible_to(self, viewer: Viewer) -> HistoryFilters:
        """These filters narrowed to what the viewer may see: a viewer who does not see every scan sees only
        their own, whatever requester the URL names."""
        own = viewer.owner_filter()
        if own == "":  # fail closed: an empty requester filter would mean every scan
            raise PermissionError("a viewer without an email has no history")
        return replace(self, requester=self.requester if own is None else own).normalised()

    def where(self) -> list[ColumnElement[bool]]:
        """SQL conditions on Scan for these filters (indexed columns first)."""
        conds: list[ColumnElement[bool]] = []
        if self.start:
            conds.append(Scan.created_at >= datetime.combine(self.start, time.min, UTC))
        if self.end:
            conds.append(Scan.created_at < datetime.combine(self.end + timedelta(days=1), time.min, UTC))
        if self.domain:
            conds.append(or_(Scan.host == self.domain, Scan.host.like(f"%.{_like_escape(self.domain)}", escape="\\")))
        if self.requester:
            conds.append(Scan.requester_email == self.requester)
        if self.statuses:
            conds.append(Scan.status.in_(self.statuses))
        if self.scanners:
            conds.append(or_(*[_requested(name).is_not(None) for name in self.scanners]))
        return conds


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _requested(scanner: str) -> ColumnElement[Any]:
    """The scanner's options as JSON text when the scan requested it, else NULL (SQLite and PostgreSQL alike)."""
    return Scan.scanners[scanner].as_string()


# ------------------------------------------------------------------------------------------------ queries


def _utc(values: Any) -> pd.Series:
    """Datetimes as stored (SQLite: naive UTC text; PostgreSQL: aware datetimes) -> UTC datetime64, vectorised."""
    return pd.to_datetime(pd.Series(values, dtype=object), utc=True, format="ISO8601")


def _counts(texts: Any, keys: tuple[str, ...]) -> pd.DataFrame:
    """JSON count objects (text, or dicts when the driver decodes JSON) -> int columns, in one C-level parse."""
    texts = list(texts)
    if texts and not all(isinstance(t, str) or t is None for t in texts):
        texts = [t if isinstance(t, str) or t is None else json.dumps(t) for t in texts]
    records = json.loads("[" + ",".join(t or "{}" for t in texts) + "]")
    return (
        pd.DataFrame.from_records(records, columns=list(keys), nrows=len(records))
        .reindex(columns=list(keys))
        .fillna(0)
        .astype("int64")
    )


FACT_COLUMNS = [
    "scan",
    "host",
    "requester",
    "status",
    "requested",
    "confirmed",
    "started",
    "finished",
    "has_report",
    "duration_s",
    *[f"req_{n}" for n in SCANNERS],
    *SEVERITIES,
    *DIFF_KEYS,
    *[f"dur_{n}" for n in SCANNERS],
    *[f"failed_{n}" for n in SCANNERS],
]


def _as_text(col: Any) -> ColumnElement[str]:
    """A JSON column as its text on every backend, so pandas parses all of them in one json.loads."""
    return type_coerce(cast(col, Text), String)


def _scan_query() -> Select[*tuple[Any, ...]]:
    """One row per scan: identity, times as text, whether it has a report, and its JSON columns as text."""
    return select(
        Scan.id,
        Scan.host,
        Scan.requester_email,
        Scan.status,
        type_coerce(Scan.created_at, String),
        type_coerce(Scan.confirmed_at, String),
        type_coerce(Scan.started_at, String),
        type_coerce(Scan.finished_at, String),
        Scan.report_key != "",
        _as_text(Scan.scanners),
        _as_text(Scan.severity_counts),
        _as_text(Scan.diff_counts),
    )


def _step_query() -> Select[*tuple[Any, ...]]:
    """The scanner steps that ran to an end (both times known): the only ones with a duration."""
    return select(
        Step.scan_id, Step.name, Step.state, type_coerce(Step.started_at, String), type_coerce(Step.finished_at, String)
    ).where(Step.name.in_(SCANNERS), Step.started_at.is_not(None), Step.finished_at.is_not(None))


def _fetch_fact_rows(
    sessions: sessionmaker[Session], since: datetime | None, ids: list[str] | None
) -> tuple[list[Any], list[Any]]:
    """Scan rows and step rows for the scans created at/after `since` or listed in `ids` (all when both None).

    A scan matched both ways comes twice; the frame keeps its last row.
    """
    q, sq = _scan_query(), _step_query()
    rows: list[Any] = []
    steps: list[Any] = []
    with sessions() as s:
        conn = s.connection()
        if since is None and ids is None:
            rows += conn.execute(q).fetchall()
            steps += conn.execute(sq).fetchall()
            return rows, steps
        if since is not None:
            rows += conn.execute(q.where(Scan.created_at >= since)).fetchall()
            steps += conn.execute(sq.join(Scan, Scan.id == Step.scan_id).where(Scan.created_at >= since)).fetchall()
        wanted = ids or []
        for i in range(0, len(wanted), 5000):  # stay under every driver's bound-parameter limit
            chunk = wanted[i : i + 5000]
            rows += conn.execute(q.where(Scan.id.in_(chunk))).fetchall()
            steps += conn.execute(sq.where(Step.scan_id.in_(chunk))).fetchall()
    return rows, steps


def _scan_frame(rows: list[Any]) -> pd.DataFrame:
    """Scan rows -> one frame row per scan (indexed by id): times, duration, requested scanners and counts."""
    c = list(zip(*rows)) if rows else [()] * 12
    frame = pd.DataFrame(
        {
            "scan": pd.Series(c[0], dtype=object),
            "host": pd.Series(c[1], dtype=object),
            "requester": pd.Series(c[2], dtype=object),
            "status": pd.Series(c[3], dtype=object),
            "requested": _utc(c[4]),
            "confirmed": _utc(c[5]),
            "started": _utc(c[6]),
            "finished": _utc(c[7]),
            "has_report": pd.Series(c[8], dtype=bool),
        }
    )
    frame["duration_s"] = (frame["finished"] - frame["started"]).dt.total_seconds()
    scanners = pd.Series(c[9], dtype=object).fillna("")
    for n in SCANNERS:
        frame[f"req_{n}"] = scanners.str.contains(f'"{n}"', regex=False).astype(bool)
    frame = pd.concat([frame, _counts(c[10], SEVERITIES), _counts(c[11], DIFF_KEYS)], axis=1)
    return frame.drop_duplicates("scan", keep="last").set_index("scan", drop=False)


def _step_pivot(steps: list[Any]) -> pd.DataFrame | None:
    """Step rows -> scans x (seconds|failed, scanner), the last row winning; None when no step ran."""
    if not steps:
        return None
    sc = list(zip(*steps))
    st = pd.DataFrame(
        {
            "scan": sc[0],
            "name": sc[1],
            "failed": pd.Series(sc[2], dtype=object) == "failed",
            "seconds": (_utc(sc[4]) - _utc(sc[3])).dt.total_seconds(),
        }
    )
    return st.drop_duplicates(["scan", "name"], keep="last").pivot(index="scan", columns="name")


def _add_step_columns(frame: pd.DataFrame, steps: list[Any]) -> None:
    """Each scanner's step duration (NaN when it did not run) and whether it failed, as columns of `frame`."""
    st = _step_pivot(steps)
    for n in SCANNERS:
        if st is not None and ("seconds", n) in st.columns:
            frame[f"dur_{n}"] = st[("seconds", n)].reindex(frame.index)
            frame[f"failed_{n}"] = st[("failed", n)].reindex(frame.index).fillna(False).astype(bool)
        else:
            frame[f"dur_{n}"] = np.nan
            frame[f"failed_{n}"] = False


def query_facts(
    sessions: sessionmaker[Session], since: datetime | None = None, ids: list[str] | None = None
) -> pd.DataFrame:
    """Narrow facts of the scans created at/after `since` or listed in `ids` (all scans when both are None):
    one row per scan with its times, counts, requested scanners and each scanner step's duration and outcome.

    Two Core queries (no ORM objects); JSON and datetimes are parsed column-wise, not per value.
    """
    rows, steps = _fetch_fact_rows(sessions, since, ids)
    frame = _scan_frame(rows)
    _add_step_columns(frame, steps)
    return _typed(frame[FACT_COLUMNS].reset_index(drop=True))


def _typed(facts: pd.DataFrame) -> pd.DataFrame:
    """Hosts as a categorical column: a few thousand hosts over 100,000 scans, so counting, de-duplicating and
    matching hosts work on small integer codes (bench/history.py). Re-applied after a merge, which gives object."""
    return facts.astype({"host": "category"})


class ScanFacts:
    """The narrow facts of every scan, kept in memory and refreshed incrementally (one per process and database).

    A refresh (at most every `ttl_s`) re-reads scans created since the newest one seen (minus `overlap`, for
    clocks and late commits) and every scan that was not yet finished; a change in the number of scans (one was
    deleted) triggers a full reload. Thread-safe: viewers share one frame and one refresh at a time.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        ttl_s: float = 30.0,
        overlap: timedelta = timedelta(minutes=5),
        clock: Any = None,
    ) -> None:
        self.sessions = sessions
        self.ttl_s = ttl_s
        self.overlap = overlap
        self._clock = clock or monotonic
        self._lock = threading.Lock()
        self._frame: pd.DataFrame | None = None
        self._checked = float("-inf")
        self.full_loads = 0
        self.refreshes = 0

    def warm(self) -> None:
        """Do the expensive full load now (at start-up); the first viewer then only pays an incremental refresh."""
        with self._lock:
            if self._frame is None:
                self._frame = query_facts(self.sessions)
                self.full_loads += 1

    def frame(self) -> pd.DataFrame:
        with self._lock:
            now = self._clock()
            if self._frame is None:
                self._frame = query_facts(self.sessions)
                self.full_loads += 1
            elif now - self._checked >= self.ttl_s:
                self._frame = self._refreshed(self._frame)
                self.refreshes += 1
            else:
                return self._frame
            self._checked = now
            return self._frame

    def _refreshed(self, old: pd.DataFrame) -> pd.DataFrame:
        since = (old["requested"].max() - self.overlap).to_pydatetime() if len(old) else None
        open_ids = old.loc[~old["status"].isin(FINAL_STATUSES), "scan"].tolist()
        fresh = (
            query_facts(self.sessions, since=since, ids=open_ids) if since is not None else query_facts(self.sessions)
        )
        merged = _typed(pd.concat([old[~old["scan"].isin(fresh["scan"])], fresh], ignore_index=True))
        with self.sessions() as s:
            total = s.scalar(select(func.count()).select_from(Scan)) or 0
        if total != len(merged):
            self.full_loads += 1
            return query_facts(self.sessions)
        return merged


def table_rows(sessions: sessionmaker[Session], filters: HistoryFilters, limit: int | None = None) -> pd.DataFrame:
    """The filtered scans for the table (newest first, `limit` rows) or the CSV export (limit=None): every
    column a reader wants, with links to each scan's progress page and report. Core query, column-wise parsing."""
    as_text = lambda col: type_coerce(cast(col, Text), String)  # noqa: E731
    q = (
        select(
            Scan.id,
            Scan.target,
            Scan.host,
            Scan.requester_email,
            Scan.status,
            *[type_coerce(c, String) for c in (Scan.created_at, Scan.confirmed_at, Scan.started_at, Scan.finished_at)],
            Scan.report_key != "",
            as_text(Scan.scanners),
            as_text(Scan.severity_counts),
            as_text(Scan.diff_counts),
        )
        .where(and_(*filters.where()))
        .order_by(Scan.created_at.desc(), Scan.id)
    )
    if limit is not None:
        q = q.limit(limit)
    with sessions() as s:
        rows = s.connection().execute(q).fetchall()
    c = list(zip(*rows)) if rows else [()] * 13
    obj = lambda i: pd.Series(c[i], dtype=object)  # noqa: E731
    frame = pd.DataFrame(
        {
            "scan": obj(0),
            "target": obj(1),
            "host": obj(2),
            "requester": obj(3),
            "status": obj(4),
            "requested": _utc(c[5]),
            "confirmed": _utc(c[6]),
            "started": _utc(c[7]),
            "finished": _utc(c[8]),
        }
    )
    frame["duration_s"] = (frame["finished"] - frame["started"]).dt.total_seconds()
    requested = [sorted(json.loads(t or "{}")) if isinstance(t, str) or t is None else sorted(t) for t in c[10]]
    frame["scanners"] = pd.Series([", ".join(r) for r in requested], dtype=object)
    frame = pd.concat([frame, _counts(c[11], SEVERITIES), _counts(c[12], DIFF_KEYS)], axis=1)
    frame["progress"] = "/progress?scan=" + frame["scan"]
    report = np.where(np.array(c[9], dtype=bool), "/reports?scan=" + frame["scan"], np.array(None, dtype=object))
    frame["report"] = pd.Series(report, dtype=object)  # None, not NaN, where there is no report
    return frame[TABLE_COLUMNS]


def export_csv(sessions: sessionmaker[Session], filters: HistoryFilters) -> bytes:
    """Every filtered row as CSV (UTC ISO times), for the download button; text cells that a spreadsheet
    would run as a formula (a requester `=1+2@x.example`) are neutralised."""
    frame = table_rows(sessions, filters)
    for col in frame.select_dtypes(include="object").columns:
        frame[col] = frame[col].map(csv_cell)
    return frame.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%SZ").encode()


def filter_choices(sessions: sessionmaker[Session], limit: int = 500) -> dict[str, list[str]]:
    """Known requesters and hosts (most frequent first) to offer in the filter widgets."""
    with sessions() as s:

        def top(col: Any) -> list[str]:
            return list(s.scalars(select(col).group_by(col).order_by(func.count().desc(), col).limit(limit)))

        return {"requester": top(Scan.requester_email), "host": top(Scan.host)}


TABLE_COLUMNS = [
    "scan",
    "target",
    "host",
    "requester",
    "status",
    "requested",
    "confirmed",
    "started",
    "finished",
    "duration_s",
    "scanners",
    *SEVERITIES,
    *DIFF_KEYS,
    "progress",
    "report",
]
