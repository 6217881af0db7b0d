"""Triage sticks to (host, rule) across scans: marked once, carried to later scans, an expired acceptance
reopens, a fix that did not hold reopens; triaged findings leave the counts and the diff and are shown apart;
every change is recorded with who and when. Real SQLite database migrated by Alembic."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from lib.adapters.db import make_engine, migrate, session_factory
from lib.adapters.triage_store import marks_for_host, record_triage, triage_history
from lib.core.findings import Asset, Finding
from lib.core.triage import (
    ACCEPTED_RISK,
    FALSE_POSITIVE,
    FIXED_PENDING,
    OPEN,
    TriageError,
    check_mark,
    retriage_document,
)
from lib.engines.report import build_report
from lib.engines.workspace import ScanMeta, StepOutcome, Workspace

HOST = "shop.example"
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def sessions(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'triage.db'}")
    migrate(engine)
    yield session_factory(engine)
    engine.dispose()


def web(rule_id: str, title: str, severity: str, path: str = "/", param: str = "") -> Finding:
    url = f"https://{HOST}{path}"
    return Finding(
        "scanboard-web",
        rule_id,
        title,
        severity,
        Asset(host=HOST, port=443, protocol="https", url=url, param=param),
        steps=("web",),
    )


CSP = web("missing-csp", "Content-Security-Policy header missing", "medium", param="content-security-policy")
LISTING = web("directory-listing", "Directory listing enabled", "medium", "/files/")
COOKIE = web("cookie-no-httponly", "Cookie without the HttpOnly flag", "low", param="sid")


def scan(tmp_path, n: int, findings, previous, marks, now):
    ws = Workspace(tmp_path / f"scan{n}", f"scan{n:08d}")
    ws.write_meta(ScanMeta(ws.scan_id, f"https://{HOST}/", "ana@example.com", {"web": {}}))
    ws.write_step(StepOutcome("web", "succeeded", "scanboard-web", "1.0", findings=findings))
    result = build_report(ws, previous, f"scan{n - 1:08d}" if previous else "", marks, now=now)
    back = [Finding.from_dict(d) for d in json.loads(result.json.read_text())["findings"]]
    return result, back


def test_mark_carry_expire_across_three_scans(tmp_path, sessions):
    first, stored1 = scan(tmp_path, 1, [CSP, LISTING, COOKIE], [], {}, T0)
    assert first.counts["medium"] == 2 and first.counts["low"] == 1

    at = T0 + timedelta(minutes=5)
    record_triage(
        sessions, HOST, LISTING.rule, FALSE_POSITIVE, "the folder is meant to be public", "ana@example.com", at=at
    )
    record_triage(
        sessions,
        HOST,
        CSP.rule,
        ACCEPTED_RISK,
        "legacy admin, replaced in Q1",
        "max@example.com",
        expires_at=T0 + timedelta(days=7),
        at=at,
    )
    record_triage(sessions, HOST, COOKIE.rule, FIXED_PENDING, "sid is HttpOnly since 2.3", "ana@example.com", at=at)

    # scan 2, a day later: both marks carry; the cookie is still there, so "fixed" did not hold and it is open
    second, stored2 = scan(
        tmp_path, 2, [CSP, LISTING, COOKIE], stored1, marks_for_host(sessions, HOST), T0 + timedelta(days=1)
    )
    assert second.counts == {"critical": 0, "high": 0, "medium": 0, "low": 1, "info": 0}
    assert [f.rule for f in second.findings] == [COOKIE.rule]
    assert sorted(f.rule for f, _ in second.triaged) == sorted([CSP.rule, LISTING.rule])
    assert second.diff.counts() == {"new": 0, "fixed": 0, "unchanged": 1}  # triaged ones are not "fixed"
    doc = second.document
    assert {t["triage"]["state"] for t in doc["triaged"]} == {FALSE_POSITIVE, ACCEPTED_RISK}
    html = (tmp_path / "scan2" / "scan00000002" / "report.html").read_text()
    assert "Triaged (not counted above)" in html and "the folder is meant to be public" in html

    # scan 3, after the acceptance expired: the CSP finding is open again, the false positive stays aside
    third, _ = scan(
        tmp_path, 3, [CSP, LISTING, COOKIE], stored2, marks_for_host(sessions, HOST), T0 + timedelta(days=8)
    )
    assert sorted(f.rule for f in third.findings) == sorted([CSP.rule, COOKIE.rule])
    assert [f.rule for f, _ in third.triaged] == [LISTING.rule]
    assert third.counts["medium"] == 1
    assert [f.rule for f in third.diff.new] == [CSP.rule]  # reopened since the previous scan


def test_every_change_is_recorded_with_who_and_when(sessions):
    record_triage(sessions, HOST, CSP.rule, FALSE_POSITIVE, "wrong", "ana@example.com", at=T0)
    record_triage(sessions, HOST.upper(), CSP.rule, OPEN, "", "max@example.com", at=T0 + timedelta(hours=1))
    history = triage_history(sessions, HOST, CSP.rule)
    assert [(m.state, m.by, m.at) for m in history] == [
        (FALSE_POSITIVE, "ana@example.com", T0),
        (OPEN, "max@example.com", T0 + timedelta(hours=1)),
    ]
    mark = marks_for_host(sessions, HOST)[(HOST, CSP.rule)]
    assert mark.state == OPEN and not mark.hides(T0 + timedelta(days=1))


@pytest.mark.parametrize(
    ("state", "reason", "expires", "roles", "message"),
    [
        (ACCEPTED_RISK, "ok", None, {"analyst"}, "expiry date in the future"),
        (ACCEPTED_RISK, "ok", T0 - timedelta(days=1), {"manager"}, "expiry date in the future"),
        (FALSE_POSITIVE, "   ", None, {"analyst"}, "Say why"),
        (FALSE_POSITIVE, "x", None, {"operator"}, "Only an analyst or a manager"),
        ("wontfix", "x", None, {"analyst"}, "Unknown triage state"),
    ],
)
def test_bad_marks_are_refused_with_a_reason(state, reason, expires, roles, message):
    with pytest.raises(TriageError, match=message):
        check_mark(state, reason, expires, T0, roles)


def test_cluster_mode_applies_the_marks_when_the_portal_records_the_workers_findings(tmp_path, sessions):
    """The cluster's worker builds findings.json without the database; the portal applies the marks when it
    records the finished scan, so counts, History and the diff leave triaged findings out there too."""
    first, _ = scan(tmp_path, 1, [CSP, LISTING, COOKIE], [], {}, T0)
    record_triage(sessions, HOST, LISTING.rule, FALSE_POSITIVE, "public folder", "ana@example.com", at=T0)
    doc = retriage_document(first.document, marks_for_host(sessions, HOST), T0 + timedelta(hours=1))
    assert [d["rule"] for d in doc["findings"]] == [f.rule for f in first.findings if f.rule != LISTING.rule]
    assert [d["rule"] for d in doc["triaged"]] == [LISTING.rule] and doc["triaged"][0]["triage"][
        "by"
    ] == "ana@example.com"
    assert doc["counts"]["medium"] == first.counts["medium"] - 1
    assert doc["diff"]["new"] == first.document["diff"]["new"] - 1
