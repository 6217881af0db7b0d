"""The podSpecPatch that pins ZAP's pod: every approved address under the canonical name, in the form the
Kubernetes API server accepts, or a refusal in our step (never an unpinned ZAP)."""

from __future__ import annotations

import ipaddress

import kubernetes_validate
import pytest

from lib.core.scope import ScopeDecision, ScopePolicy, check_url
from lib.core.target_url import TargetURL
from lib.engines.pod_pinning import PinningError, pinning_patch

ADDRESSES = ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]


def _pod(patch: dict) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "zap"},
        "spec": {"containers": [{"name": "main", "image": "ghcr.io/zaproxy/zaproxy:2.16.1"}], **patch},
    }


def test_an_international_name_is_pinned_as_its_a_label_to_every_approved_address():
    decision = check_url("https://Bücher.Example/katalog", ScopePolicy(), lambda host: ADDRESSES)
    patch = pinning_patch(decision)
    assert patch == {"hostAliases": [{"ip": a, "hostnames": ["xn--bcher-kva.example"]} for a in ADDRESSES]}
    assert {ipaddress.ip_address(a["ip"]).version for a in patch["hostAliases"]} == {4, 6}
    kubernetes_validate.validate(_pod(patch), "1.33.0", strict=True)


def test_the_longest_name_the_url_parser_accepts_still_fits_a_host_alias():
    name = ".".join(["a" * 63] * 3 + ["b" * 61])  # 253 characters
    patch = pinning_patch(check_url(f"https://{name}/", ScopePolicy(), lambda host: ADDRESSES[:1]))
    assert patch["hostAliases"][0]["hostnames"] == [name]


def test_an_ip_literal_needs_no_pin():
    assert pinning_patch(check_url("https://93.184.216.34/", ScopePolicy(), lambda host: [])) == {}


@pytest.mark.parametrize("host", ["Upper.example", "under_score.example", "trailing.example.", "a" * 254])
def test_a_name_the_api_server_would_refuse_fails_in_our_step(host):
    decision = ScopeDecision(TargetURL("https", host, 443), tuple(ADDRESSES))
    with pytest.raises(PinningError, match="cannot be pinned"):
        pinning_patch(decision)


def test_no_approved_address_is_no_pin_not_an_empty_one():
    with pytest.raises(PinningError, match="no approved address"):
        pinning_patch(ScopeDecision(TargetURL("https", "example.com", 443), ()))
