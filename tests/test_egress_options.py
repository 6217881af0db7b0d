"""Bounded options: the port spec has a length and a range cap, every option is checked by type, and the largest
request the form accepts still fits the EventSource's payload limit (read from the manifest itself) when the
real webhook client posts it to a listener."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lib.adapters.webhook import Webhook
from lib.core.pipeline import WEBHOOK_MAX_PAYLOAD_BYTES, WebhookPayload, workflow_parameters
from lib.core.ports import MAX_ENTRIES, MAX_RANGES, MAX_SPEC_LENGTH, parse_port_spec
from lib.core.scope import ScopePolicy
from lib.core.target_url import MAX_URL_LENGTH
from lib.core.validation import MAX_PATH_LENGTH, RequestInvalid, payload_size, validate_request
from tests.webhook_server import WebhookServer

ROOT = Path(__file__).resolve().parents[1]
CLUSTER = ScopePolicy()


def public(host: str) -> list[str]:
    return ["93.184.215.14"]


@pytest.mark.parametrize(
    "spec,message",
    [
        ("1," * 200 + "2", "too long"),
        (",".join(str(p) for p in range(1, MAX_ENTRIES + 2)), "at most"),
        (",".join(f"{p}-{p + 1}" for p in range(1, 2 * (MAX_RANGES + 1), 2)), "ranges"),
        (["22", "80"], "as text"),
        ({"from": 1}, "as text"),
        (True, "as text"),
        (80.5, "as text"),
    ],
)
def test_port_specs_are_bounded_and_typed(spec: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_port_spec(spec)


@pytest.mark.parametrize(
    "scanners,field",
    [
        ({"portscan": {"ports": ["1-1024"]}}, "portscan.ports"),
        ({"portscan": ["ports"]}, "portscan"),
        ({"web": {"path": ["/"]}}, "web.path"),
        ({"web": {"path": "/a\x0bb"}}, "web.path"),
        ({"web": {"path": "/\u2028"}}, "web.path"),
        ({"web": {"depth": True}}, "web.depth"),
        ({"web": {"depth": {"deep": 1}}}, "web.depth"),
        ({"tls": {"port": "443; rm -rf"}}, "tls.port"),
        ({"tls": {"port": [443]}}, "tls.port"),
        (["portscan"], "scanners"),
    ],
)
def test_options_of_the_wrong_type_are_field_errors(scanners: object, field: str) -> None:
    with pytest.raises(RequestInvalid) as e:
        validate_request("https://example.com/", "ana@example.com", scanners, CLUSTER, public)  # type: ignore[arg-type]
    assert e.value.errors.get(field)


def largest_request() -> tuple[str, str, dict]:
    host = ".".join(["a" * 63] * 3) + ".example"  # 200 characters, a valid name
    target = f"https://{host}/" + "p" * (MAX_URL_LENGTH - len(host) - 9)
    email = "a" * 64 + "@" + ".".join(["b" * 59] * 3) + ".example"  # 252 characters
    ports = ",".join(["1-65535"] * MAX_RANGES + [str(p) for p in range(10000, 10021)])
    assert len(ports) <= MAX_SPEC_LENGTH
    scanners = {
        "portscan": {"ports": ports},
        "web": {"path": "/" + "q" * (MAX_PATH_LENGTH - 1), "depth": 3},
        "tls": {"port": 65535},
    }
    return target, email, scanners


def test_the_largest_accepted_request_fits_the_eventsource_limit() -> None:
    docs = yaml.safe_load_all((ROOT / "k8s/base/events/eventsource.yaml").read_text())
    limits = [
        w["maxPayloadSize"] for d in docs if d and d.get("kind") == "EventSource" for w in d["spec"]["webhook"].values()
    ]
    assert limits == [WEBHOOK_MAX_PAYLOAD_BYTES]  # the form's bound is the manifest's
    target, email, scanners = largest_request()
    req = validate_request(target, email, scanners, CLUSTER, public)
    assert len(req.target) == MAX_URL_LENGTH
    size = payload_size(req.target, req.email, req.scanners)
    assert size < WEBHOOK_MAX_PAYLOAD_BYTES
    server = WebhookServer().start()
    try:
        params = workflow_parameters("0123456789ab", req.target, req.email, req.scanners)
        Webhook(server.url, server.token).deliver(WebhookPayload("0123456789ab", params))
    finally:
        server.stop()
    assert server.received[0]["parameters"]["target"] == req.target
