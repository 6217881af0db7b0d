"""pytest fixtures for the Kubernetes API test server; conftest.py imports them
(`from tests.kube_fixtures import *`)."""

from __future__ import annotations

import pytest

from testkit.kube_api_server import KubeApiServer

__all__ = ["kube_api", "kubeconfig"]


@pytest.fixture
def kube_api():
    """A running KubeApiServer on 127.0.0.1 (token `test-token`), stopped after the test."""
    server = KubeApiServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def kubeconfig(kube_api, tmp_path):
    """Path of a kubeconfig pointing at `kube_api`, namespace `scanboard`."""
    return kube_api.write_kubeconfig(tmp_path / "kubeconfig", namespace="scanboard")
