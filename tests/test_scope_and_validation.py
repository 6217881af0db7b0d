"""The scope policy and the form's validation: what may be scanned, and every problem named at its field."""

from __future__ import annotations

import pytest

from lib.core.scope import ScopeError, ScopePolicy, check_url, normalise_host
from lib.core.validation import RequestInvalid, validate_request

CLUSTER = ScopePolicy()  # the argo-mode default: public addresses only
LAPTOP = ScopePolicy(allow_loopback=True, allow_private=True)


def fixed(*addresses: str):
    return lambda host: list(addresses)


@pytest.mark.parametrize(
    "host,expected",
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("::ffff:127.0.0.1", "127.0.0.1"),
        ("Example.COM.", "example.com"),
    ],
)
def test_odd_spellings_are_normalised(host: str, expected: str) -> None:
    assert normalise_host(host) == expected


@pytest.mark.parametrize(
    "url,addr,why",
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254", "metadata"),
        ("http://[fd00:ec2::254]/", "fd00:ec2::254", "metadata"),
        ("http://internal.example/", "10.0.0.5", "private"),
        ("http://cgnat.example/", "100.64.1.1", "carrier-grade"),
        ("http://localhost/", "127.0.0.1", "loopback"),
        ("http://0x7f000001/", "127.0.0.1", "four decimal numbers"),
        ("http://link.example/", "169.254.10.10", "link-local"),
        ("http://any.example/", "0.0.0.0", "not a unicast"),
    ],
)
def test_cluster_default_refuses_internal_addresses(url: str, addr: str, why: str) -> None:
    with pytest.raises(ScopeError, match=why):
        check_url(url, CLUSTER, fixed(addr))


def test_every_resolved_address_is_checked() -> None:
    with pytest.raises(ScopeError, match=r"10\.1\.2\.3"):
        check_url("https://rebind.example/", CLUSTER, fixed("93.184.215.14", "10.1.2.3"))


def test_public_target_is_allowed_and_laptop_may_scan_itself() -> None:
    assert check_url("https://example.com/", CLUSTER, fixed("93.184.215.14")).host == "example.com"
    assert check_url("http://127.0.0.1:8080/", LAPTOP, fixed("127.0.0.1")).addresses == ("127.0.0.1",)
    with pytest.raises(ScopeError, match="metadata"):  # even on a laptop
        check_url("http://169.254.169.254/", LAPTOP, fixed("169.254.169.254"))


@pytest.mark.parametrize(
    "url,msg",
    [
        ("ftp://example.com/", "Only http"),
        ("http://user:pw@example.com/", "user name"),
        ("http:///x", "no host"),
        ("http://example.com:99999/", "not valid"),
        ("https://" + "a" * 3000 + ".com/", "too long"),
    ],
)
def test_malformed_urls(url: str, msg: str) -> None:
    with pytest.raises(ScopeError, match=msg):
        check_url(url, CLUSTER, fixed("93.184.215.14"))


def test_domain_allow_and_deny_lists() -> None:
    policy = ScopePolicy(allow_domains=("example.com",), deny_domains=("secret.example.com",))
    assert check_url("https://www.example.com/", policy, fixed("93.184.215.14"))
    with pytest.raises(ScopeError, match="not on this portal's list"):
        check_url("https://example.org/", policy, fixed("93.184.215.14"))
    with pytest.raises(ScopeError, match="not allowed"):
        check_url("https://secret.example.com/", policy, fixed("93.184.215.14"))


def test_valid_request_fills_defaults() -> None:
    req = validate_request(
        "http://127.0.0.1:8000/",
        " Ana@Example.com ",
        {"portscan": {}, "web": {"depth": "2"}},
        LAPTOP,
        fixed("127.0.0.1"),
    )
    assert req.email == "Ana@example.com"
    assert req.scanners == {
        "portscan": {"ports": "1-1024", "service_version": "false", "tls_ciphers": "false"},
        "web": {"path": "/", "depth": 2},
    }


def test_every_problem_is_reported_at_its_field() -> None:
    with pytest.raises(RequestInvalid) as e:
        validate_request(
            "example.com",
            "not-an-email\r\nBcc: x@y.z",
            {"portscan": {"ports": "99999"}, "web": {"path": "x", "depth": 9}, "tls": {"port": -1}},
            LAPTOP,
        )
    assert set(e.value.errors) == {"target", "email", "portscan.ports", "web.path", "web.depth", "tls.port"}
    with pytest.raises(RequestInvalid) as e:
        validate_request("http://127.0.0.1/", "a@b.example", {}, LAPTOP, fixed("127.0.0.1"))
    assert set(e.value.errors) == {"scanners"}


@pytest.mark.parametrize(
    "given, kept",
    [(True, "true"), ("yes", "true"), (1, "true"), (" ON ", "true"), (False, "false"), ("no", "false"), ("0", "false")],
)
def test_portscan_switches_are_kept_as_true_or_false(given: object, kept: str) -> None:
    req = validate_request(
        "http://127.0.0.1/",
        "ana@example.com",
        {"portscan": {"service_version": given, "tls_ciphers": given}},
        LAPTOP,
        fixed("127.0.0.1"),
    )
    assert (req.scanners["portscan"]["service_version"], req.scanners["portscan"]["tls_ciphers"]) == (kept, kept)


def test_a_switch_that_is_neither_on_nor_off_is_a_clear_field_error() -> None:
    with pytest.raises(RequestInvalid) as e:
        validate_request(
            "http://127.0.0.1/",
            "ana@example.com",
            {"portscan": {"service_version": "maybe", "tls_ciphers": ["true"]}},
            LAPTOP,
            fixed("127.0.0.1"),
        )
    assert e.value.errors["portscan.service_version"].startswith("Service detection (nmap -sV) is on or off")
    assert "TLS cipher enumeration" in e.value.errors["portscan.tls_ciphers"]


def test_an_option_the_scanner_does_not_have_is_refused_naming_its_options() -> None:
    """A typo (port for ports) must not quietly scan with the default instead."""
    with pytest.raises(RequestInvalid) as e:
        validate_request(
            "http://127.0.0.1/",
            "ana@example.com",
            {"portscan": {"bogus": 1, "ports": "80"}, "web": {"dept": 2}, "tls": {"port": 443}},
            LAPTOP,
            fixed("127.0.0.1"),
        )
    assert e.value.errors == {
        "portscan.bogus": "portscan has no option 'bogus'; its options are: ports, service_version, tls_ciphers.",
        "web.dept": "web has no option 'dept'; its options are: path, depth.",
    }
