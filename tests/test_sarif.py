"""SARIF 2.1.0 export: every document validates against the official OASIS schema (vendored), and it carries
what a code-scanning dashboard needs (levels, rules, fingerprints, baseline state)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from hypothesis import given, settings
from hypothesis import strategies as st

from lib.core.findings import SEVERITIES, Asset, Finding
from lib.core.sarif import to_sarif

SCHEMA = json.loads((Path(__file__).parent / "fixtures/sarif/sarif-schema-2.1.0.json").read_text())
VALIDATOR = jsonschema.Draft4Validator(SCHEMA)


def finding(severity: str = "high", rule: str = "missing-csp", **asset: object) -> Finding:
    return Finding(
        tool="http_baseline",
        rule_id=rule,
        title=f"Finding {rule}",
        severity=severity,
        asset=Asset(**asset),  # type: ignore[arg-type]
        cwe=("CWE-693",),
        evidence="header absent",
        remediation="Send the header.",
        references=("https://owasp.org/",),
    )


def test_schema_is_the_official_one() -> None:
    assert SCHEMA["id"].startswith("https://docs.oasis-open.org/sarif/sarif/v2.1.0/")
    bad = to_sarif([], "http://x/", "abc")
    bad["runs"][0]["results"] = [{"level": "severe", "message": {"text": "x"}}]
    assert not VALIDATOR.is_valid(bad)  # the schema does reject a wrong level: the checks below mean something


def test_levels_rules_fingerprints_and_baseline() -> None:
    found = [
        (finding("critical", "a", url="http://t/"), "new"),
        (finding("medium", "b", host="t", port=22, protocol="tcp"), "unchanged"),
        (finding("info", "a", url="http://t/x"), "new"),
    ]
    doc = to_sarif(found, "http://t/", "scan1", information_uri="http://portal/")
    VALIDATOR.validate(doc)
    run = doc["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["http_baseline/a", "http_baseline/b"]
    levels = [(r["ruleId"], r["level"], r.get("baselineState")) for r in run["results"]]
    assert levels == [
        ("http_baseline/a", "error", "new"),
        ("http_baseline/b", "warning", "unchanged"),
        ("http_baseline/a", "note", "new"),
    ]
    assert run["results"][1]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "tcp://t:22"
    assert run["results"][0]["partialFingerprints"]["scanboardIssue/v1"] == found[0][0].issue_fp
    assert run["tool"]["driver"]["rules"][0]["properties"]["security-severity"] == "9.5"


text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(SEVERITIES),
            text,
            text,
            st.one_of(st.none(), st.integers(1, 65535)),
            st.sampled_from(["new", "unchanged", "fixed", ""]),
        ),
        max_size=8,
    )
)
def test_any_findings_give_a_valid_log(rows) -> None:
    found = [
        (Finding("tool", rule or "r", title or "t", sev, Asset(host="h", port=port), evidence=title), state)
        for sev, rule, title, port, state in rows
    ]
    VALIDATOR.validate(to_sarif(found, "http://h/", "s"))
