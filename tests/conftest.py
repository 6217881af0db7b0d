"""Shared fixtures: settings in a temporary data dir, a started runtime, a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lib.config import Settings
from lib.runtime import Runtime, build_runtime
from tests.kube_fixtures import *  # noqa: F403 - the Kubernetes API server fixtures
from tests.smtp_server import SmtpServer


@pytest.fixture
def make_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Settings]:
    """Settings isolated from the developer's environment and .env file, in a temporary data dir."""
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    for var in ("SMTP_HOST", "DATABASE_URL", "SCANBOARD_SECRET_KEY", "SCANBOARD_MODE", "ARGO_WEBHOOK_URL"):
        monkeypatch.delenv(var, raising=False)

    def make(**overrides: object) -> Settings:
        base = {
            "scanboard_data_dir": tmp_path / "data",
            "public_base_url": "http://portal.test",
            "retry_seconds": 0.2,
            "stale_scan_seconds": 30.0,
        }
        return Settings(**{**base, **overrides})

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = build_runtime(settings).start()
    try:
        yield rt
    finally:
        rt.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    try:
        yield server
    finally:
        server.stop()


def wait_until(predicate: Callable[[], object], timeout: float = 60.0, interval: float = 0.1) -> object:
    """Poll until predicate() is truthy; its value, or AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so fixtures can tell a failed test (e.g. to save a screenshot)."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
