"""On PostgreSQL, with many schedulers at once (several portal processes): each due run starts once, and each
finished scan's notification is stored and delivered once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from lib.adapters.models import utcnow
from lib.runtime import build_runtime
from lib.services import schedules
from lib.services.notifications import add_rule, evaluate_finished
from tests.notify_receiver import Receiver
from tests.postgres_server import postgres
from tests.test_notifications import finished_scan

pytestmark = pytest.mark.slow


def test_concurrent_schedulers_start_each_run_once_and_notify_once(make_settings) -> None:
    receiver = Receiver()
    with postgres() as url:
        rt = build_runtime(make_settings(database_url=url, notify_signing_secret="s"))
        try:
            t0 = utcnow()
            weekly = lambda: schedules.when(preset="weekly", weekday="friday", tz="UTC")  # noqa: E731
            for _ in range(3):
                assert schedules.create(rt, "ana@example.com", receiver.url + "/", {"web": {}}, weekly, now=t0).ok
            later = t0 + timedelta(weeks=1)
            with ThreadPoolExecutor(max_workers=8) as pool:
                started = [i for ids in pool.map(lambda _: schedules.run_due(rt, later), range(16)) for i in ids]
            assert len(started) == len(set(started)) == 3

            add_rule(rt, "ana@example.com", "webhook", receiver.url + "/hook", "finished")
            finished_scan(rt)
            with ThreadPoolExecutor(max_workers=8) as pool:
                stored = [i for ids in pool.map(lambda _: evaluate_finished(rt, rt.notifier), range(16)) for i in ids]
            assert len(stored) == 1 and len(receiver.received) == 1
        finally:
            rt.db.dispose()
            receiver.close()
