"""The production database path: the same migrations and code on a real PostgreSQL server."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import inspect

from lib.adapters.models import SUCCEEDED
from lib.adapters.repository import finding_rows, get_scan
from lib.runtime import build_runtime
from lib.services.intake import confirm, submit
from testkit.targets import http_target
from tests.conftest import wait_until
from tests.postgres_server import postgres

pytestmark = pytest.mark.slow


def test_lifecycle_and_limits_on_postgresql(make_settings) -> None:
    with postgres() as url:
        rt = build_runtime(make_settings(database_url=url, limit_requests_per_hour=3)).start()
        try:
            assert {
                "scans",
                "steps",
                "findings",
                "messages",
                "limit_keys",
                "cluster_samples",
                "alembic_version",
            } <= set(inspect(rt.db).get_table_names())
            with http_target() as port:
                target = f"http://127.0.0.1:{port}/"
                with ThreadPoolExecutor(max_workers=8) as pool:
                    outcomes = list(pool.map(lambda _: submit(rt, target, "ana@example.com", {"web": {}}), range(8)))
                assert sum(o.ok for o in outcomes) == 3  # the limit holds under concurrency (row locks)
                scan_id = next(o.scan_id for o in outcomes if o.ok)
                link = next(m.link for m in rt.mailer.messages() if m.scan_id == scan_id)
                token = parse_qs(urlsplit(link).query)["token"][0]
                with ThreadPoolExecutor(max_workers=20) as pool:
                    results = list(pool.map(lambda _: confirm(rt, token).status, range(40)))
                assert results.count("started") == 1
                wait_until(lambda: get_scan(rt.sessions, scan_id).finished_at, timeout=60)
            scan = get_scan(rt.sessions, scan_id)
            assert scan.status == SUCCEEDED and scan.created_at.tzinfo is not None
            assert any(r.rule_id == "missing-csp" for r in finding_rows(rt.sessions, scan_id))
        finally:
            rt.stop()
