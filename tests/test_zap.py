"""ZAP baseline JSON reports (ZAP's documented "traditional JSON" format) become normalised findings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lib.core.findings import deduplicate
from lib.scanners import choose
from lib.scanners.base import ScanContext, ScannerError
from lib.scanners.http_baseline import HttpBaseline
from lib.scanners.zap import ZapScanner, html_text, parse_zap_file, parse_zap_json
from testkit.targets import http_target

FIXTURES = Path(__file__).parent / "fixtures" / "zap"


def _fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def _ctx(tmp_path, target: str, **options) -> ScanContext:
    raw = tmp_path / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    return ScanContext(scan_id="0123456789ab", target=target, options=options, raw_dir=raw, timeout=60)


def test_careless_site_report():
    version, findings = parse_zap_json(_fixture("baseline-careless-site.json"))
    assert version == "2.16.1"
    assert len(findings) == 9  # 8 alerts, CSP on two URLs
    by = {(f.rule_id, f.asset.url): f for f in findings}
    csp = by[("zap-10038-1", "http://127.0.0.1:8080/")]
    assert (csp.title, csp.severity, csp.confidence, csp.cwe) == (
        "Content Security Policy (CSP) Header Not Set",
        "medium",
        "high",
        ("CWE-693",),
    )
    assert csp.asset.param == "content-security-policy"  # ZAP leaves it empty; named like the builtin does
    assert (csp.asset.host, csp.asset.port, csp.asset.protocol) == ("127.0.0.1", 8080, "http")
    assert "<p>" not in csp.remediation and csp.remediation.startswith("Ensure that your web server")
    assert (
        csp.references[0]
        == "https://developer.mozilla.org/en-US/docs/Web/Security/CSP/Introducing_Content_Security_Policy"
    )
    assert ("zap-10038-1", "http://127.0.0.1:8080/sitemap.xml") in by
    cookie = by[("zap-10010", "http://127.0.0.1:8080/")]
    assert (cookie.asset.param, cookie.severity, cookie.cwe) == ("sessionid", "low", ("CWE-1004",))
    banner = by[("zap-10036", "http://127.0.0.1:8080/")]
    assert banner.asset.param == "server" and "Apache/2.4.41" in banner.evidence
    csrf = by[("zap-10202", "http://127.0.0.1:8080/")]
    assert csrf.confidence == "low" and 'Evidence: <form action="/login"' in csrf.evidence
    modern = by[("zap-10109", "http://127.0.0.1:8080/")]
    assert modern.severity == "info" and modern.cwe == ()  # cweid -1 means none
    assert all(f.tool == "zap" and f.tool_version == "2.16.1" for f in findings)


def test_https_report_drops_false_positives_and_keeps_cves():
    version, findings = parse_zap_json(_fixture("https-site-with-false-positive.json"))
    rules = {f.rule_id: f for f in findings}
    assert "zap-10096" not in rules  # confidence 0 = marked false positive in ZAP
    xss = rules["zap-40012"]
    assert (xss.severity, xss.asset.param, xss.asset.port, xss.asset.protocol) == ("high", "q", 8443, "https")
    assert "Attack: </p><scrIpt>alert(1);</scRipt><p>" in xss.evidence
    lib = rules["zap-10003"]
    assert lib.cve == ("CVE-2015-9251", "CVE-2020-11023")
    assert rules["zap-10035-1"].asset.param == "strict-transport-security"
    assert rules["zap-10011"].asset.param == "JSESSIONID"
    assert len(findings) == 4


def test_report_without_alerts():
    assert parse_zap_json(_fixture("no-alerts.json")) == ("2.16.1", [])


def test_fingerprints_ignore_text_that_changes_between_runs():
    doc = json.loads(_fixture("baseline-careless-site.json"))
    _, first = parse_zap_json(json.dumps(doc))
    doc["@generated"] = "Sun, 22 Nov 2026 09:00:00"
    doc["created"] = "2026-11-22T09:00:00Z"
    for alert in doc["site"][0]["alerts"]:
        alert["desc"] = "<p>Reworded in a newer ZAP.</p>"
        alert["solution"] = "<p>Also reworded.</p>"
        for inst in alert["instances"]:
            inst["id"] = "99"
            inst["otherinfo"] = "different"
    _, second = parse_zap_json(json.dumps(doc))
    assert [(f.rule_fp, f.issue_fp) for f in first] == [(f.rule_fp, f.issue_fp) for f in second]


def test_zap_and_builtin_baseline_deduplicate_on_a_real_site(tmp_path):
    """The same missing headers and cookie flags found by ZAP and by the builtin check become one row each."""
    with http_target() as port:
        builtin = HttpBaseline().run(_ctx(tmp_path / "b", f"http://127.0.0.1:{port}/")).findings
    zap_doc = _fixture("baseline-careless-site.json").replace("127.0.0.1:8080", f"127.0.0.1:{port}")
    zap_doc = zap_doc.replace('"@port": "8080"', f'"@port": "{port}"')
    _, zap = parse_zap_json(zap_doc)
    merged = deduplicate(builtin + zap)
    both = {f.title for f in merged if set(f.tools) == {"zap", "scanboard-web"}}
    assert len(both) >= 5, both  # CSP, clickjacking, X-Content-Type-Options, HttpOnly, SameSite
    assert len(merged) < len(builtin) + len(zap)


def test_parse_file_keeps_the_report_as_raw_output(tmp_path):
    ctx = _ctx(tmp_path, "http://127.0.0.1:8080/")
    result = parse_zap_file(FIXTURES / "baseline-careless-site.json", ctx)
    assert result.tool == "zap" and result.tool_version == "2.16.1" and result.raw_files == ["zap.json"]
    assert (ctx.raw_dir / "zap.json").read_text() == _fixture("baseline-careless-site.json")
    # parsing the kept file in place (the cluster's layout: the ZAP pod wrote raw/zap.json) works too
    again = parse_zap_file(ctx.raw_dir / "zap.json", ctx)
    assert [f.rule_fp for f in again.findings] == [f.rule_fp for f in result.findings]


def test_missing_report_file_is_a_clear_step_failure(tmp_path):
    with pytest.raises(ScannerError, match="cannot be read"):
        parse_zap_file(tmp_path / "nope.json", _ctx(tmp_path, "http://127.0.0.1/"))


@pytest.mark.parametrize(
    "text, reason",
    [
        ("", "unreadable"),
        ("<html>", "unreadable"),
        ("[]", "not a ZAP JSON report"),
        ('{"site": "http://x"}', "list of objects"),
        (
            '{"site": [{"alerts": [{"pluginid": "1", "riskcode": "7", "confidence": "2", "alert": "x"}]}]}',
            "unknown riskcode",
        ),
        (
            '{"site": [{"alerts": [{"pluginid": "1", "riskcode": "1", "confidence": "9", "alert": "x"}]}]}',
            "unknown confidence",
        ),
        ('{"site": [{"alerts": [{"pluginid": "1", "riskcode": "1", "confidence": "2"}]}]}', "no name"),
        (
            '{"site": [{"alerts": [{"riskcode": "1", "confidence": "2", "alert": "x", "instances": [3]}]}]}',
            "list of objects",
        ),
        (
            '{"site": [{"alerts": [{"riskcode": "1", "confidence": "2", "alert": "x", '
            '"instances": [{"uri": "http://h:99999/"}]}]}]}',
            "bad URL",
        ),
        ('{"site": [{"alerts": [{"riskcode": ["1"], "confidence": "2", "alert": "x"}]}]}', "should be text"),
    ],
)
def test_malformed_report_is_a_clear_step_failure(text, reason):
    with pytest.raises(ScannerError, match=reason):
        parse_zap_json(text)


def test_html_text():
    assert html_text("<p>One &amp; two</p><p>three</p>") == "One & two\nthree"


def test_zap_is_only_chosen_where_installed():
    assert ZapScanner().available() is False  # zap-baseline.py lives in the ZAP image, not here
    assert choose("web").tool == "scanboard-web"
