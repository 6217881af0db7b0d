"""Moved to testkit/kube_api_server.py (shared with bench/); kept so `tests.kube_api_server` still imports."""

from testkit.kube_api_server import KubeApiServer, parse_selector, selector_matches

__all__ = ["KubeApiServer", "parse_selector", "selector_matches"]
