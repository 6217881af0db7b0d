"""The audit log as a manager reads it: sign-ins, a request, its confirmation and a view are there with who did
them; the page filters and exports them; nobody can rewrite the table, not even with SQL."""

from __future__ import annotations

import csv
import io
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from lib.adapters.audit import AuditFilters, events, export_csv, record
from lib.adapters.db import make_engine, migrate, session_factory
from lib.services.intake import confirm, submit
from tests.postgres_server import postgres
from tests.test_roles import reach, signed_app  # noqa: F401 - the fixture
from ui.runtime import get_runtime

ANA = {"is_logged_in": True, "email_verified": True, "email": "ana@corp.example"}
BOSS = {"is_logged_in": True, "email_verified": True, "email": "boss@corp.example"}


def test_a_manager_sees_who_did_what_filters_and_exports(signed_app) -> None:  # noqa: F811
    ana = signed_app(ANA).run()
    rt = get_runtime()
    out = submit(rt, "http://127.0.0.1:9/", "ana@corp.example", {"web": {}}, actor="ana@corp.example")
    link = next(m.link for m in rt.mailer.messages() if m.scan_id == out.scan_id)
    assert confirm(rt, parse_qs(urlsplit(link).query)["token"][0]).ok
    ana.query_params["scan"] = out.scan_id
    assert reach(ana, "views/progress.py") == "Scan progress"
    ana.run()  # a rerun is not a second view
    assert reach(ana, "views/audit.py") is None  # analysts have no audit page
    signed_app({"is_logged_in": True, "email": "mallory@corp.example"}).run()  # unverified: refused, logged

    boss = signed_app(BOSS).run()
    assert reach(boss, "views/audit.py") == "Audit log"
    shown = boss.dataframe[0].value
    got = set(zip(shown["actor"], shown["action"], shown["scan_id"]))
    assert {
        ("ana@corp.example", "signed_in", ""),
        ("ana@corp.example", "requested", out.scan_id),
        ("ana@corp.example", "confirmed", out.scan_id),
        ("ana@corp.example", "viewed", out.scan_id),
        ("mallory@corp.example", "sign_in_refused", ""),
        ("boss@corp.example", "signed_in", ""),
    } <= got
    assert list(shown["action"]).count("viewed") == 1
    boss.selectbox(key="a_action").select("viewed").run()
    assert set(boss.dataframe[0].value["action"]) == {"viewed"}

    rows = list(csv.DictReader(io.StringIO(export_csv(rt.sessions, AuditFilters(scan_id=out.scan_id)).decode())))
    assert [r["action"] for r in rows] == ["viewed", "confirmed", "requested"]


def append_only(url: str) -> None:
    engine = make_engine(url)
    migrate(engine)
    sessions = session_factory(engine)
    record(sessions, "=1+2@evil.example", "requested", "abc123abc123", "http://x/")
    for sql in ("UPDATE audit_events SET actor = 'someone-else'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(sql))
    assert [e["actor"] for e in events(sessions, AuditFilters())] == ["=1+2@evil.example"]
    assert b"'=1+2@evil.example" in export_csv(sessions, AuditFilters())
    engine.dispose()


def test_the_table_refuses_update_and_delete_in_sqlite(tmp_path) -> None:
    append_only(f"sqlite:///{tmp_path / 'a.db'}")


def test_the_table_refuses_update_and_delete_in_postgresql() -> None:
    with postgres() as url:
        append_only(url)
