"""A finding's identity is (scanboard rule, host): distinct rules stay distinct whatever their CWE, equivalent
rules of two tools meet, instances group under one finding, and records stored by earlier versions still diff."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from lib.core.findings import Asset, Finding, canonical_url, diff, group, severity_counts, split_not_applicable
from lib.core.rules import EQUIVALENCES, TOOL_RULES, scanboard_rule
from lib.scanners.zap import parse_zap_json

ZAP_2_8 = Path(__file__).parent / "fixtures" / "zap" / "real-2.8.0-example-com.json"


def web(rule_id: str, url: str = "http://Example.com:80/login", param: str = "", cwe: str = "CWE-693") -> Finding:
    return Finding(
        "scanboard-web",
        rule_id,
        f"{rule_id} title",
        "medium",
        Asset(host="example.com", port=80, protocol="http", url=url, param=param),
        cwe=(cwe,),
        evidence="changes every run: 12:00:01",
    )


def zap(alert_ref: str, url: str = "http://example.com/login", cwe: str = "CWE-693", severity: str = "low") -> Finding:
    return Finding(
        "zap",
        f"zap-{alert_ref}",
        f"ZAP {alert_ref}",
        severity,
        Asset(host="example.com", port=80, protocol="http", url=url),
        cwe=(cwe,),
    )


def test_fingerprints_ignore_run_to_run_text_and_canonicalise_urls() -> None:
    a = web("missing-csp", param="content-security-policy")
    b = replace(a, evidence="other text", remediation="x", first_seen="t1")
    c = web("missing-csp", url="http://example.com/login", param="content-security-policy")
    assert a.rule_fp == b.rule_fp == c.rule_fp and a.issue_fp == c.issue_fp == b.issue_fp
    assert a.instance_fp == c.instance_fp
    assert canonical_url("example.com") == "http://example.com/"


def test_n_distinct_rules_sharing_a_cwe_on_one_url_stay_n_findings() -> None:
    # ZAP 2.8 really reports CSP, X-Frame-Options, HSTS and X-Content-Type-Options all as CWE-16.
    rules = ["10038", "10020", "10035", "10021", "10055-4", "10055-6"]
    found = group(zap(r, cwe="CWE-16") for r in rules)
    assert len(found) == len(rules)
    assert len({f.issue_fp for f in found}) == len(rules)
    assert severity_counts(found)["low"] == len(rules)


def test_real_zap_report_with_shared_cwes_keeps_every_rule() -> None:
    version, findings = parse_zap_json(ZAP_2_8.read_text())
    alerts = json.loads(ZAP_2_8.read_text())["site"][0]["alerts"]
    cwes = [a.get("cweid") for a in alerts]
    assert version == "2.8.0" and cwes.count("16") == 4  # the real report: four rules share CWE-16
    grouped = group(findings)
    assert len(grouped) == len(alerts)  # one finding per alert (rule) on the one host, not one per CWE
    csp = next(f for f in grouped if f.rule == "web.missing-csp")
    # ZAP lists https://www.example.com and https://www.example.com/ apart: one canonical URL
    assert len(csp.instances) == 3 and csp.instance_noun == "URLs"


def test_equivalent_rules_of_two_tools_are_one_finding_crediting_both() -> None:
    ours = web("missing-csp", param="content-security-policy")
    theirs = zap("10038-1", severity="high")
    rows = group([ours, theirs, web("missing-x-content-type-options", param="x-content-type-options")])
    assert len(rows) == 2
    csp = next(r for r in rows if r.rule == "web.missing-csp")
    assert csp.tools == ("scanboard-web", "zap") and csp.severity == "high"
    assert scanboard_rule("scanboard-tls", "protocol-tlsv1") == scanboard_rule("sslyze", "protocol-tlsv1")
    assert scanboard_rule("scanboard-web", "banner-leak", "Server") == scanboard_rule("zap", "zap-10036")
    assert scanboard_rule("scanboard-web", "banner-leak", "x-powered-by") != scanboard_rule("zap", "zap-10036")


def test_unlisted_tool_rules_are_their_own_rule() -> None:
    assert scanboard_rule("zap", "zap-10055-4") == "zap:zap-10055-4"
    assert scanboard_rule("zap", "zap-10055-4") != scanboard_rule("zap", "zap-10055-6")
    assert all(rule in EQUIVALENCES for rule in TOOL_RULES.values())


def test_one_finding_per_rule_and_host_with_its_instances() -> None:
    listing = [
        Finding(
            "scanboard-web",
            "directory-listing",
            "Directory listing enabled",
            "medium",
            Asset(host="h.example", port=8000, protocol="http", url=f"http://h.example:8000/d{i}/"),
        )
        for i in range(21)
    ]
    other_host = replace(listing[0], asset=replace(listing[0].asset, host="other.example"))
    rows = group([*listing, listing[3], other_host])
    assert len(rows) == 2
    main = next(r for r in rows if r.asset.host == "h.example")
    assert len(main.instances) == 21 and main.instance_noun == "URLs"
    assert severity_counts(rows)["medium"] == 2  # findings, not instances


def test_diff_new_rule_sharing_a_cwe_with_an_old_one_is_new() -> None:
    old = [replace(zap("10037", cwe="CWE-200"), first_seen="2026-01-01")]  # X-Powered-By
    new = [zap("10037", cwe="CWE-200"), zap("10096", cwe="CWE-200")]  # + Timestamp Disclosure, same CWE
    d = diff(new, old)
    assert [f.rule for f in d.new] == ["zap:zap-10096"]
    assert [(f.rule, f.first_seen) for f in d.unchanged] == [("web.banner-x-powered-by", "2026-01-01")]
    assert d.fixed == []
    assert d.state_of(new[1]) == "new" and d.state_of(new[0]) == "unchanged"


def test_diff_new_fixed_unchanged() -> None:
    old = [web("missing-csp"), web("missing-x-content-type-options")]
    new = [web("missing-csp"), web("missing-hsts")]
    d = diff(new, old)
    assert [f.rule for f in d.new] == ["web.missing-hsts"]
    assert [f.rule for f in d.fixed] == ["web.missing-x-content-type-options"]
    assert [f.rule for f in d.unchanged] == ["web.missing-csp"]


def test_records_stored_by_the_previous_version_still_diff_by_identity() -> None:
    """Before rule identity, findings.json / the findings table held one record per URL, keyed on CWE, with
    the old fingerprints and no instances or rule. Read back, they group and match the new findings."""
    stored = []
    for path in ("/", "/a"):
        d = zap("10038", url=f"http://example.com{path}").to_dict()
        for key in ("rule", "instances"):
            del d[key]
        d.update(issue_fp="0f1e2d3c4b5a69788796a5b4c3d2e1f0", rule_fp="old", first_seen="2025-12-01T00:00:00+00:00")
        stored.append(d)
    previous = [Finding.from_dict(d) for d in stored]
    current = [web("missing-csp", url="http://example.com/", param="content-security-policy")]
    d = diff(current, previous)
    assert d.counts() == {"new": 0, "fixed": 0, "unchanged": 1}
    assert d.unchanged[0].first_seen == "2025-12-01T00:00:00+00:00"


def test_tls_unavailable_on_a_plain_http_target_is_a_note() -> None:
    no_tls = Finding(
        "sslyze", "tls-unavailable", "No TLS service on port 443", "medium", Asset(host="h", port=443, protocol="tcp")
    )
    redirect = web("no-https-redirect")
    kept, notes = split_not_applicable([no_tls, redirect], "http://h:8000/")
    assert kept == [redirect] and notes == [no_tls]
    kept, notes = split_not_applicable([no_tls], "https://h/")
    assert kept == [no_tls] and notes == []


def test_finding_round_trips_through_json_dict() -> None:
    f = replace(web("missing-csp"), steps=("web",), cve=("CVE-2024-1",))
    f = group([f, replace(f, asset=replace(f.asset, url="http://example.com/b"))])[0]
    back = Finding.from_dict(json.loads(json.dumps(f.to_dict())))
    assert back == f and len(back.affected) == 2
