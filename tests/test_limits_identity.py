"""Limits an abuser tries to dodge: upper case and +tags in the email, a forged X-Forwarded-For header; and a
fair count behind the load balancer, where every request's TCP peer is the balancer."""

from __future__ import annotations

import pytest

from lib.core.limit_rules import Limits, canonical_email, client_address
from lib.runtime import build_runtime
from lib.services.intake import submit


@pytest.fixture
def strict(make_settings):
    def make(**overrides):
        rt = build_runtime(make_settings(limit_unconfirmed=2, **overrides))
        return rt

    return make


def request(rt, email: str, client: str = "") -> dict[str, str]:
    return submit(rt, "http://127.0.0.1:9/", email, {"web": {}}, client_id=client).errors


def test_case_does_not_make_a_new_requester(strict) -> None:
    rt = strict()
    try:
        assert request(rt, "ana@corp.example") == {} and request(rt, "Ana@corp.example") == {}
        assert "2 scan requests still waiting" in request(rt, "ANA@Corp.Example")["limit"]
    finally:
        rt.stop()


def test_plus_tags_share_one_limit_where_the_domain_ignores_them(strict) -> None:
    rt = strict(limit_plus_tag_domains="corp.example")
    try:
        assert request(rt, "ana+1@corp.example") == {} and request(rt, "ana+2@corp.example") == {}
        assert "limit" in request(rt, "Ana+3@corp.example")
        assert "limit" in request(rt, "ana@corp.example")
        assert request(rt, "ana+1@other.example") == {}  # a domain where +tags are separate mailboxes
        assert request(rt, "ana+2@other.example") == {} and request(rt, "ana+3@other.example") == {}
    finally:
        rt.stop()


def test_canonical_email() -> None:
    tagged = Limits(plus_tag_domains=("gmail.com",))
    assert canonical_email(" Ana.B+news@GMail.com ", tagged) == "ana.b@gmail.com"
    assert canonical_email("ana+news@corp.example", tagged) == "ana+news@corp.example"
    assert canonical_email("+only@gmail.com", tagged) == "+only@gmail.com"  # nothing before the tag: kept
    assert canonical_email("a+b@x.example", Limits(plus_tag_domains=("*",))) == "a@x.example"


ALB = "10.0.3.7"  # the TCP peer of every request behind the load balancer


@pytest.mark.parametrize(
    ("headers", "hops", "expected"),
    [
        (["198.51.100.9"], 0, ALB),  # no proxy trusted: a client's own header means nothing
        ([], 1, ALB),
        (["198.51.100.9"], 1, "198.51.100.9"),  # what the ALB appended
        (["6.6.6.6, 198.51.100.9"], 1, "198.51.100.9"),  # a forged entry to the left is ignored
        (["6.6.6.6", "198.51.100.9"], 1, "198.51.100.9"),  # the same as two header lines
        (["6.6.6.6, 198.51.100.9, 10.0.9.9"], 2, "198.51.100.9"),  # a CDN in front of the ALB
        (["198.51.100.9"], 2, "198.51.100.9"),  # fewer entries than hops: the farthest one
        (["not-an-ip"], 1, ALB),
        (["2001:DB8::1"], 1, "2001:db8::1"),
    ],
)
def test_client_address_through_trusted_hops(headers, hops, expected) -> None:
    assert client_address(ALB, headers, hops) == expected
