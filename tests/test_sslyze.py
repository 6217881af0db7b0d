"""sslyze really runs against TLS servers the tests start; its JSON is parsed into the one finding schema."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lib.core.findings import deduplicate
from lib.scanners import choose
from lib.scanners.base import ScanContext, ScannerError
from lib.scanners.sslyze_tls import SslyzeScanner, classify_cipher, hostname_matches, parse_sslyze_json
from lib.scanners.tls_builtin import BuiltinTls
from testkit.targets import http_target, tls_target

# Only the tests that run sslyze need it (a pinned requirement); the parser tests always run.
needs_sslyze = pytest.mark.skipif(
    not SslyzeScanner().available(), reason="sslyze not installed (requirements.txt pins it)"
)


def _ctx(tmp_path, target: str, **options) -> ScanContext:
    raw = tmp_path / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    return ScanContext("0123456789ab", target, options, raw, timeout=90, addresses=("127.0.0.1",))


@pytest.fixture(scope="module")
def legacy_scan(tmp_path_factory):
    """One real sslyze run against a server that still offers TLS 1.0/1.1 and anonymous ciphers."""
    tmp = tmp_path_factory.mktemp("sslyze")
    with tls_target(legacy_protocols=True, days=2) as port:
        result = SslyzeScanner().run(_ctx(tmp / "1", f"https://localhost:{port}/"))
        again = SslyzeScanner().run(_ctx(tmp / "2", f"https://localhost:{port}/"))
        builtin = BuiltinTls().run(_ctx(tmp / "3", f"https://localhost:{port}/"))
    raw = (tmp / "1" / "raw" / "sslyze.json").read_text()
    return {"result": result, "again": again, "builtin": builtin, "raw": raw, "port": port}


@needs_sslyze
@pytest.mark.slow
def test_real_scan_finds_legacy_protocols_weak_ciphers_and_certificate_problems(legacy_scan):
    result = legacy_scan["result"]
    rules = {f.rule_id: f for f in result.findings}
    assert {
        "protocol-tlsv1",
        "protocol-tlsv1.1",
        "weak-cipher-anon",
        "cert-expiring",
        "cert-self-signed",
        "cert-untrusted",
    } <= set(rules)
    # what the server does right is not reported
    assert not {
        "protocol-sslv2",
        "protocol-sslv3",
        "heartbleed",
        "robot",
        "cert-hostname-mismatch",
        "cert-expired",
        "protocol-no-modern-tls",
    } & set(rules)
    assert rules["protocol-tlsv1"].severity == "high" and rules["protocol-tlsv1"].cwe == ("CWE-327",)
    assert "TLS_ECDH_anon_WITH_AES_256_CBC_SHA" in rules["weak-cipher-anon"].evidence
    assert rules["cert-untrusted"].asset.port == legacy_scan["port"]
    assert result.tool == "sslyze" and result.tool_version.startswith("6.")
    assert "sslyze.json" in result.raw_files


@needs_sslyze
@pytest.mark.slow
def test_parser_gives_the_same_findings_from_the_kept_raw_file(legacy_scan):
    version, findings = parse_sslyze_json(legacy_scan["raw"], "localhost")
    assert version == legacy_scan["result"].tool_version
    assert [f.rule_fp for f in findings] == [f.rule_fp for f in legacy_scan["result"].findings]


@needs_sslyze
@pytest.mark.slow
def test_rescan_gives_identical_fingerprints(legacy_scan):
    first = sorted((f.rule_fp, f.issue_fp) for f in legacy_scan["result"].findings)
    second = sorted((f.rule_fp, f.issue_fp) for f in legacy_scan["again"].findings)
    assert first == second


@needs_sslyze
@pytest.mark.slow
def test_sslyze_and_builtin_tls_deduplicate_into_one_row_per_issue(legacy_scan):
    ours, theirs = legacy_scan["result"].findings, legacy_scan["builtin"].findings
    shared = {f.issue_fp for f in ours} & {f.issue_fp for f in theirs}
    assert len(shared) >= 4  # legacy protocols and certificate findings are the same issues
    merged = deduplicate(ours + theirs)
    assert len(merged) == len({f.issue_fp for f in ours + theirs})
    both = [f for f in merged if f.issue_fp in shared]
    assert all(set(f.tools) == {"sslyze", "scanboard-tls"} for f in both)


@needs_sslyze
@pytest.mark.slow
def test_expired_certificate_for_another_host(tmp_path):
    with tls_target(hostname="other.example", days=-1) as port:
        result = SslyzeScanner().run(_ctx(tmp_path, f"https://localhost:{port}/"))
    rules = {f.rule_id for f in result.findings}
    assert {"cert-expired", "cert-hostname-mismatch", "cert-self-signed"} <= rules
    assert "cert-expiring" not in rules
    assert not any(r.startswith("protocol-") for r in rules)  # a modern-only server


@needs_sslyze
def test_closed_port_is_reported_as_no_tls(tmp_path):
    with tls_target() as port:
        pass  # now closed
    result = SslyzeScanner().run(_ctx(tmp_path, "https://127.0.0.1/", port=port))
    (f,) = result.findings
    assert f.rule_id == "tls-unavailable" and f.asset.port == port


@needs_sslyze
@pytest.mark.slow
def test_plain_http_port_is_a_clear_step_failure(tmp_path):
    with http_target() as port, pytest.raises(ScannerError, match="could not complete a TLS handshake"):
        SslyzeScanner().run(_ctx(tmp_path, f"https://127.0.0.1:{port}/"))


@pytest.mark.parametrize("scanner", [BuiltinTls, SslyzeScanner])
@pytest.mark.parametrize(
    ("port", "reason"),
    [
        (70000, "Bad TLS port option 70000: ports are 1 to 65535."),
        (-1, "Bad TLS port option -1: ports are 1 to 65535."),
        ("https", "Bad TLS port option 'https': ports are whole numbers from 1 to 65535."),
    ],
)
def test_both_tls_scanners_refuse_a_port_that_cannot_exist(tmp_path, scanner, port, reason):
    """A typo in the port option is reported as such, not as "no TLS service on port 70000"."""
    with pytest.raises(ScannerError) as refused:
        scanner().run(_ctx(tmp_path, "https://127.0.0.1/", port=port))
    assert str(refused.value) == reason


@needs_sslyze
def test_timeout_is_a_clear_step_failure(tmp_path):
    with tls_target() as port:
        ctx = _ctx(tmp_path, f"https://127.0.0.1:{port}/")
        ctx.timeout = 0.2
        with pytest.raises(ScannerError, match="sslyze timed out"):
            SslyzeScanner().run(ctx)


@needs_sslyze
@pytest.mark.slow
def test_vulnerabilities_in_sslyze_output_become_findings(legacy_scan):
    """sslyze's JSON for a vulnerable server (the real document with its verdicts flipped) is fully mapped."""
    doc = json.loads(legacy_scan["raw"])
    scan = doc["server_scan_results"][0]["scan_result"]
    scan["heartbleed"]["result"]["is_vulnerable_to_heartbleed"] = True
    scan["robot"]["result"]["robot_result"] = "VULNERABLE_STRONG_ORACLE"
    scan["openssl_ccs_injection"]["result"]["is_vulnerable_to_ccs_injection"] = True
    scan["tls_compression"]["result"]["supports_compression"] = True
    scan["session_renegotiation"]["result"]["supports_secure_renegotiation"] = False
    scan["tls_fallback_scsv"]["result"]["supports_fallback_scsv"] = False
    scan["ssl_3_0_cipher_suites"]["result"]["is_tls_version_supported"] = True
    scan["ssl_3_0_cipher_suites"]["result"]["accepted_cipher_suites"] = [
        copy.deepcopy({"cipher_suite": {"name": "TLS_RSA_WITH_RC4_128_MD5", "is_anonymous": False, "key_size": 128}})
    ]
    _, findings = parse_sslyze_json(json.dumps(doc), "localhost")
    by_rule = {f.rule_id: f for f in findings}
    assert by_rule["heartbleed"].severity == "critical" and by_rule["heartbleed"].cve == ("CVE-2014-0160",)
    assert by_rule["robot"].severity == "high" and by_rule["robot"].cve == ("CVE-2017-13099",)
    assert by_rule["ccs-injection"].cve == ("CVE-2014-0224",)
    assert by_rule["tls-compression"].cve == ("CVE-2012-4929",)
    assert by_rule["insecure-renegotiation"].cve == ("CVE-2009-3555",)
    assert by_rule["protocol-sslv3"].severity == "high"
    assert "TLS_RSA_WITH_RC4_128_MD5" in by_rule["weak-cipher-weak-encryption"].evidence
    assert "no-fallback-scsv" in by_rule
    # every finding is a distinct issue: nothing collapses when de-duplicated
    assert len(deduplicate(findings)) == len(findings)


@needs_sslyze
@pytest.mark.slow
def test_expiry_is_judged_against_the_clock(legacy_scan):
    _, in_a_year = parse_sslyze_json(legacy_scan["raw"], "localhost", now=datetime.now(UTC) + timedelta(days=365))
    _, last_month = parse_sslyze_json(legacy_scan["raw"], "localhost", now=datetime.now(UTC) - timedelta(days=40))
    assert "cert-expired" in {f.rule_id for f in in_a_year}
    assert {"cert-not-yet-valid"} <= {f.rule_id for f in last_month}


@pytest.mark.parametrize(
    "name, size, anon, key",
    [
        ("TLS_RSA_WITH_NULL_SHA256", 0, False, "null"),
        ("TLS_DH_anon_WITH_AES_128_CBC_SHA", 128, True, "anon"),
        ("TLS_RSA_WITH_RC4_128_SHA", 128, False, "weak-encryption"),
        ("TLS_RSA_WITH_3DES_EDE_CBC_SHA", 168, False, "weak-encryption"),
        ("TLS_RSA_EXPORT_WITH_DES40_CBC_SHA", 40, False, "weak-encryption"),
        ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", 128, False, None),
        ("TLS_AES_256_GCM_SHA384", 256, False, None),
    ],
)
def test_cipher_classification(name, size, anon, key):
    rule = classify_cipher(name, size, anon)
    assert (rule.key if rule else None) == key


@pytest.mark.parametrize(
    "host, dns, ips, ok",
    [
        ("localhost", ["localhost"], [], True),
        ("www.example.com", ["*.example.com"], [], True),
        ("a.b.example.com", ["*.example.com"], [], False),
        ("example.com", ["*.example.com"], [], False),
        ("127.0.0.1", ["localhost"], ["127.0.0.1"], True),
        ("127.0.0.1", ["127.0.0.1"], [], False),
        ("other.example", ["localhost"], ["127.0.0.1"], False),
    ],
)
def test_hostname_matching(host, dns, ips, ok):
    assert hostname_matches(host, dns, ips) is ok


@pytest.mark.parametrize(
    "text, reason",
    [
        ("", "unreadable"),
        ("{", "unreadable"),
        ("[]", "unexpected shape"),
        ('{"server_scan_results": 3}', "shape"),
        ('{"server_scan_results": []}', "scanned nothing"),
        (
            '{"sslyze_version": "6.3.1", "server_scan_results": [{"server_location": {"hostname": "h", "port": 0}}]}',
            "bad port",
        ),
    ],
)
def test_malformed_json_is_a_clear_step_failure(text, reason):
    with pytest.raises(ScannerError, match=reason):
        parse_sslyze_json(text)


@needs_sslyze
def test_registry_prefers_sslyze():
    assert choose("tls").tool == "sslyze"
    assert choose("tls", prefer="scanboard-tls").tool == "scanboard-tls"


FIXTURES = Path(__file__).parent / "fixtures" / "sslyze"


def test_real_6x_output_of_openssl_s_server():
    """sslyze 6.3.1's own JSON of three servers (see fixtures/sslyze/PROVENANCE.md): a legacy openssl s_server,
    a modern one reached by name, a closed port."""
    text = (FIXTURES / "sslyze-6.3.1-openssl-s_server.json").read_text()
    version, findings = parse_sslyze_json(text, now=datetime(2026, 12, 2, 16, 0, tzinfo=UTC))
    assert version == "6.3.1"
    by_port: dict[int, set[str]] = {}
    for f in findings:
        by_port.setdefault(f.asset.port or 0, set()).add(f.rule)
    legacy, modern, closed = by_port[44331], by_port[44332], by_port[44339]
    assert {"tls.protocol-tlsv1", "tls.protocol-tlsv1.1", "tls.cert-self-signed", "tls.cert-expiring"} <= legacy
    assert {"tls.cert-self-signed", "tls.cert-expiring"} <= modern and not any("protocol" in r for r in modern)
    assert closed == {"tls.unavailable"}
    # the SAN list (DNS:localhost, IP:127.0.0.1) is read: neither the name nor the address is a mismatch
    assert "tls.cert-hostname-mismatch" not in legacy | modern


def test_real_5x_output_reads_the_san_list_under_dns():
    """sslyze 5.x wrote the DNS subjectAltNames under `dns`; read as 6.x's `dns_names` they would be missing and
    the common-name fallback (*.facebook.com) would call messenger.com, which the SAN list covers, a mismatch."""
    doc = json.loads((FIXTURES / "sslyze-5.0.0b0-real-sites.json").read_text())
    when = datetime(2021, 10, 3, 18, 30, tzinfo=UTC)
    version, findings = parse_sslyze_json(json.dumps(doc), now=when)
    assert version == "5.0.0b0"
    assert {f.asset.host for f in findings} == {"localhost", "www.facebook.com", "www.google.com"}
    assert not [
        f for f in findings if f.rule in ("tls.cert-hostname-mismatch", "tls.cert-untrusted", "tls.cert-expired")
    ]
    assert [f.asset.port for f in findings if f.rule == "tls.unavailable"] == [1234]  # localhost:1234 refused
    doc["server_scan_results"] = doc["server_scan_results"][1:2]  # www.facebook.com only
    _, as_messenger = parse_sslyze_json(json.dumps(doc), host="messenger.com", now=when)
    assert not [f for f in as_messenger if f.rule == "tls.cert-hostname-mismatch"]
    _, as_other = parse_sslyze_json(json.dumps(doc), host="example.org", now=when)
    assert [f.rule for f in as_other if f.rule == "tls.cert-hostname-mismatch"] == ["tls.cert-hostname-mismatch"]


@pytest.mark.parametrize("version", ["4.1.0", "7.0.0", ""])
def test_unknown_sslyze_versions_are_refused_with_a_message_naming_them(version):
    doc = json.loads((FIXTURES / "sslyze-6.3.1-openssl-s_server.json").read_text())
    doc["sslyze_version"] = version
    with pytest.raises(ScannerError, match=f"sslyze {version or '.no version given.'} output is not a version"):
        parse_sslyze_json(json.dumps(doc))


def test_builtin_tls_reports_every_certificate_problem_not_only_the_first_openssl_meets(tmp_path):
    """OpenSSL stops at the first verification error (here: self-signed), so a wrong host name behind it was never
    reported; the builtin check judges the name on its own, as sslyze does (the test above, same server)."""
    with tls_target(hostname="other.example", days=-1) as port:
        result = BuiltinTls().run(_ctx(tmp_path, f"https://localhost:{port}/"))
    rules = {f.rule_id: f for f in result.findings}
    assert {"cert-expired", "cert-hostname-mismatch", "cert-self-signed", "cert-untrusted"} <= set(rules)
    assert "localhost" in rules["cert-hostname-mismatch"].evidence


def test_builtin_tls_does_not_invent_a_name_mismatch(tmp_path):
    with tls_target(days=90) as port:  # self-signed for localhost
        result = BuiltinTls().run(_ctx(tmp_path, f"https://localhost:{port}/"))
    rules = {f.rule_id for f in result.findings}
    assert "cert-self-signed" in rules and "cert-hostname-mismatch" not in rules
