"""The one strict URL parse, fuzzed against the clients that really connect (urllib3 and requests): whenever we
accept a URL they read the same scheme, host and port; control characters and backslashes never get through;
the reproduced bypasses (backslash host, NUL host, CR/LF target) end as a message on the form, with nothing
stored and no mail sent."""

from __future__ import annotations

import ipaddress

import pytest
import requests
import urllib3
from hypothesis import example, given, settings
from hypothesis import strategies as st

from lib.adapters.models import Scan
from lib.core.target_url import TargetURL, URLRejected, parse_target
from lib.services.intake import submit

TRICKY = "aAzZ09-._~:/?#[]@!$&'()*+,;=%\\ \t\r\n\x00\x0b\x7f\u3002\uff0e\u200b\u00a0\uff41\u00df\u0130\ufeff"
hosts = st.one_of(
    st.text(alphabet=TRICKY, max_size=20),
    st.from_regex(r"[a-zA-Z0-9\-\u00e0-\u00ff\u0430-\u044f]{1,10}(\.[a-zA-Z0-9\-_%]{1,10}){0,3}", fullmatch=True),
    st.builds(lambda a: str(ipaddress.ip_address(a)), st.integers(0, 2**32 - 1)),
    st.builds(lambda a: f"[{ipaddress.IPv6Address(a)}]", st.integers(0, 2**128 - 1)),
    st.sampled_from(
        ["example.com", "EXAMPLE.com", "bücher.de", "xn--bcher-kva.de", "[::1]", "[::ffff:127.0.0.1]", "1.2.3.4"]
    ),
)
urls = st.builds(
    lambda scheme, host, port, path: f"{scheme}://{host}{port}{path}",
    st.sampled_from(["http", "https", "HTTP", "hTtPs", "ftp", "file", "gopher"]),
    hosts,
    st.one_of(st.just(""), st.builds(lambda p: f":{p}", st.text(alphabet="0123456789+- x", max_size=7))),
    st.one_of(st.text(alphabet=TRICKY, max_size=15), st.from_regex(r"(/[!-~]{0,10}){0,3}", fullmatch=True)),
)


def _same_host(ours: TargetURL, theirs: str | None) -> bool:
    theirs = (theirs or "").lower()
    if ours.is_ip:
        try:
            return ipaddress.ip_address(theirs.strip("[]")) == ipaddress.ip_address(ours.host)
        except ValueError:
            return False
    return theirs == ours.host


def _requests_view(url: str) -> urllib3.util.Url:
    prepared = requests.PreparedRequest()
    prepared.prepare_url(url, None)
    return urllib3.util.parse_url(prepared.url)


@settings(max_examples=3000, deadline=None)
@given(urls)
@example("http://169.254.169.254\\x.attacker.example/")
@example("http://victim.example\x00.allowed.example/")
@example("http://example.com/\r\nBcc: x@y.z")
@example("http://127.0.0.1%2f.example.com/")
@example("http://example.com:0/")
def test_when_we_accept_the_clients_agree(url: str) -> None:
    try:
        ours = parse_target(url)
    except URLRejected as e:
        assert str(e) and "\n" not in str(e) and "\x00" not in str(e)
        return
    assert not any(c in url for c in "\\\x00\r\n\t ")
    for name, theirs in (("urllib3", urllib3.util.parse_url(url)), ("requests", _requests_view(url))):
        assert (theirs.scheme or "").lower() == ours.scheme, name
        assert _same_host(ours, theirs.host), (name, theirs.host, ours.host)
        assert (theirs.port or ours.port) == ours.port, name
    # the canonical form reads the same to urllib3 and parses back to itself
    again = parse_target(ours.url)
    assert again == ours
    assert _same_host(ours, urllib3.util.parse_url(ours.url).host)


@settings(max_examples=500, deadline=None)
@given(urls, st.integers(0, 30), st.sampled_from(["\x00", "\r", "\n", "\t", "\x0b", "\x1f", "\x7f", "\u2028", "\x85"]))
def test_control_characters_are_always_refused(url: str, where: int, control: str) -> None:
    where = min(where, len(url))
    with pytest.raises(URLRejected):
        parse_target(url[:where] + control + url[where:])


@pytest.mark.parametrize(
    "url,canonical",
    [
        ("HTTPS://Example.COM/a?b=1#frag", "https://example.com/a?b=1"),
        ("http://bücher.de:8080/ü", "http://xn--bcher-kva.de:8080/%C3%BC"),
        ("http://[::FFFF:127.0.0.1]:80/", "http://[::ffff:7f00:1]/"),
        ("https://example.com:443", "https://example.com/"),
    ],
)
def test_what_is_accepted_is_stored_canonical(url: str, canonical: str) -> None:
    assert parse_target(url).url == canonical


@pytest.mark.parametrize(
    "target,message",
    [
        ("http://169.254.169.254\\x.attacker.example/", "backslash"),
        ("http://victim.example\x00.allowed.example/", "U+0000"),
        ("http://example.com/\r\nBcc: attacker@evil.example", "U+000D"),
        ("http://example.com\r\n/", "U+000D"),
        ("http://ex%61mple.com/", "percent-encoded"),
        ("http://example..com/", "empty label"),
        ("http://example.com:65536/", "1 to 65535"),
        ("http://user@example.com/", "user name"),
        ("http://ｅｘａｍｐｌｅ.com/", "domain name"),
    ],
)
def test_form_refuses_bypasses_and_nothing_is_stored_or_mailed(make_settings, smtp, target: str, message: str):
    from lib.runtime import build_runtime

    settings_ = make_settings(smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_starttls=False, smtp_ssl=False)
    rt = build_runtime(settings_)
    try:
        out = submit(rt, target, "ana@example.com", {"portscan": {}}, resolve=lambda host: ["93.184.215.14"])
        assert not out.ok and message in out.errors["target"]
        with rt.sessions() as s:
            assert s.query(Scan).count() == 0
        assert smtp.messages == []
    finally:
        rt.stop()
