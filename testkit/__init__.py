"""Servers on 127.0.0.1 that both the tests and the benchmarks run against (not part of the app: lib never
imports this package). The Kubernetes API test server and the loopback scan targets live here so bench/ needs nothing
from tests/."""
