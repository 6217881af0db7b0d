"""Fuzzing what strangers can send: the form's fields, target URLs through the scope policy, and tokens.
Whatever comes in, the answer is a value or our own error with a message, never another exception."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from lib.core.scope import ScopeError, ScopePolicy, check_url
from lib.core.tokens import TokenError, verify_token
from lib.core.validation import RequestInvalid, validate_request

NOW = datetime(2026, 11, 22, tzinfo=UTC)
POLICY = ScopePolicy()


def offline(host: str) -> list[str]:
    """A resolver that answers without the network: public for names, the literal for addresses."""
    return ["93.184.215.14"]


urls = st.one_of(
    st.text(max_size=300),
    st.builds(
        lambda scheme, host, rest: f"{scheme}://{host}{rest}",
        st.sampled_from(["http", "https", "ftp", "HTTP", "", "javascript"]),
        st.text(alphabet=st.characters(codec="utf-8"), max_size=60),
        st.text(max_size=60),
    ),
    st.sampled_from(
        [
            "http://[::1",
            "http://a:b@c/",
            "http://0x7f.1/",
            "http://1.2.3.4.5/",
            "http://%00/",
            "https://xn--/",
            "http://[fd00:ec2::254]:80/",
            "http://" + "a." * 200 + "com/",
        ]
    ),
)
options = st.dictionaries(
    st.sampled_from(["portscan", "web", "tls", "other"]),
    st.dictionaries(
        st.sampled_from(["ports", "path", "depth", "port", "x"]),
        st.one_of(st.text(max_size=40), st.integers(), st.none(), st.floats()),
    ),
    max_size=4,
)


@settings(max_examples=300, deadline=None)
@given(urls)
def test_scope_policy_never_crashes(url: str) -> None:
    try:
        check_url(url, POLICY, offline)
    except ScopeError as e:
        assert str(e)


@settings(max_examples=300, deadline=None)
@given(urls, st.text(max_size=100), options)
def test_request_validation_never_crashes(target: str, email: str, scanners: dict) -> None:
    try:
        req = validate_request(target, email, scanners, POLICY, offline)
    except RequestInvalid as e:
        assert e.errors and all(isinstance(m, str) and m for m in e.errors.values())
    else:
        assert req.scanners and "\n" not in req.email


BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
tokens = st.one_of(
    st.text(max_size=3000),
    st.builds(lambda a, b, c: f"{a}.{b}.{c}", st.text(max_size=200), st.text(max_size=400), st.text(max_size=100)),
    st.builds(lambda b: f"eyJhbGciOiJIUzI1NiJ9.{b}.sig", st.text(alphabet=BASE64URL, max_size=300)),
)


@settings(max_examples=400, deadline=None)
@given(tokens)
def test_token_parser_never_crashes(token: str) -> None:
    try:
        verify_token("fuzz-secret-0123456789abcdefghijklmnop", token, NOW)
    except TokenError as e:
        assert e.reason and str(e)
