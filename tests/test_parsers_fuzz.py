"""Every parser, fed malformed input, fails only with ScannerError (a step failure with a reason), never with
another exception that would crash the worker.

Inputs are random text, structured random documents, and real tool outputs (nmap and sslyze run against loopback
targets, ZAP's documented format) with random parts replaced, removed or cut off.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lib.core.findings import Finding
from lib.core.ports import parse_port_spec
from lib.scanners.base import ScannerError
from lib.scanners.nmap import nmap_findings, parse_nmap_xml
from lib.scanners.sslyze_tls import parse_sslyze_json
from lib.scanners.zap import parse_zap_json
from testkit.targets import open_ports, tls_target

# SCANBOARD_FUZZ_EXAMPLES=5000 for a deeper run than the suite's default
FUZZ = settings(
    max_examples=int(os.environ.get("SCANBOARD_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ZAP_FIXTURES = sorted((Path(__file__).parent / "fixtures" / "zap").glob("*.json"))

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.sampled_from(["", "-1", "0", "3", "99999", "COMPLETED", "http://[::1", "1e9"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _paths(doc, prefix=()):
    """Every path to a value inside a JSON document."""
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:6]):  # the first few items are representative
            yield from _paths(v, (*prefix, i))


def _mutate(doc, path, value, delete):
    doc = copy.deepcopy(doc)
    if not path:
        return value
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if delete and isinstance(parent, dict):
        del parent[path[-1]]
    elif delete:
        parent.pop(path[-1])
    else:
        parent[path[-1]] = value
    return doc


def mutated_json(base: object):
    paths = list(_paths(base))
    return st.lists(st.tuples(st.sampled_from(paths), json_values, st.booleans()), min_size=1, max_size=3).map(
        lambda muts: _apply(base, muts)
    )


def _apply(base, muts):
    doc = base
    for path, value, delete in muts:
        try:
            doc = _mutate(doc, path, value, delete)
        except (KeyError, IndexError, TypeError, AttributeError):  # an earlier mutation removed this path
            pass
    return json.dumps(doc)


def _only_scanner_error(parse, text) -> list[Finding] | None:
    try:
        out = parse(text)
    except ScannerError as exc:
        assert str(exc)  # a reason a user can read
        return None
    findings = out[1] if isinstance(out, tuple) else out
    for f in findings:
        assert isinstance(f, Finding)
        f.to_dict()  # serialisable for findings.json
        assert f.rule_fp and f.issue_fp
    return findings


# --- port spec ------------------------------------------------------------------------------------------------


@FUZZ
@given(st.text(max_size=30) | st.from_regex(r"\A[0-9 ,\-]{0,20}\Z"))
def test_port_spec_only_raises_value_error(spec):
    try:
        ports = parse_port_spec(spec)
    except ValueError as exc:
        assert str(exc)
        return
    assert ports == sorted(set(ports)) and all(1 <= p <= 65535 for p in ports)


# --- nmap XML -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_nmap_xml():
    if shutil.which("nmap") is None:
        pytest.skip("nmap not installed")
    with open_ports(2) as ports:
        spec = ",".join(map(str, ports))
        run = subprocess.run(
            ["nmap", "-sT", "-Pn", "-n", "-T4", "-p", spec, "-oX", "-", "127.0.0.1"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    assert 'state="open"' in run.stdout
    return run.stdout


NMAP_TAGS = ["nmaprun", "host", "ports", "port", "state", "service", "address", "runstats", "finished", "hostnames"]
NMAP_ATTRS = ["portid", "protocol", "state", "addr", "addrtype", "name", "product", "version", "exit", "errormsg"]
xml_trees = st.recursive(
    st.builds(
        lambda tag, attrs: (tag, attrs, []),
        st.sampled_from(NMAP_TAGS),
        st.dictionaries(
            st.sampled_from(NMAP_ATTRS),
            st.text(max_size=8) | st.sampled_from(["open", "tcp", "ipv4", "0", "65536", "80", "error", "-1", "٣"]),
            max_size=3,
        ),
    ),
    lambda inner: st.builds(
        lambda tag, attrs, kids: (tag, attrs, kids),
        st.sampled_from(NMAP_TAGS),
        st.dictionaries(st.sampled_from(NMAP_ATTRS), st.text(max_size=8), max_size=3),
        st.lists(inner, max_size=4),
    ),
    max_leaves=15,
)


def _to_xml(tree) -> str:
    def build(node):
        tag, attrs, kids = node
        el = ET.Element(tag, {k: v for k, v in attrs.items()})
        el.extend(build(k) for k in kids)
        return el

    try:
        return ET.tostring(build(tree), encoding="unicode")
    except ValueError:  # attribute text XML cannot hold (control characters)
        return "<nmaprun/>"


@FUZZ
@given(st.text(max_size=200) | st.binary(max_size=200))
def test_nmap_parser_on_random_text(text):
    _only_scanner_error(parse_nmap_xml, text)


@FUZZ
@given(xml_trees)
def test_nmap_parser_on_random_trees(tree):
    findings = _only_scanner_error(lambda t: nmap_findings(parse_nmap_xml(t), "h"), _to_xml(tree))
    for f in findings or []:
        assert 0 < f.asset.port < 65536


@FUZZ
@given(data=st.data())
def test_nmap_parser_on_damaged_real_output(real_nmap_xml, data):
    how = data.draw(st.sampled_from(["cut", "insert", "replace"]))
    i = data.draw(st.integers(0, len(real_nmap_xml)))
    if how == "cut":
        text = real_nmap_xml[:i]
    elif how == "insert":
        text = real_nmap_xml[:i] + data.draw(st.text(max_size=10)) + real_nmap_xml[i:]
    else:
        old = data.draw(st.sampled_from(['"open"', '"tcp"', '"success"', "portid=", "<port ", "</ports>", "7.93"]))
        text = real_nmap_xml.replace(old, data.draw(st.text(max_size=6)))
    _only_scanner_error(lambda t: nmap_findings(parse_nmap_xml(t), "h"), text)


# --- sslyze JSON ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_sslyze_doc(tmp_path_factory):
    out = tmp_path_factory.mktemp("fuzz") / "sslyze.json"
    with tls_target(legacy_protocols=True) as port:
        subprocess.run(
            [
                sys.executable,
                "-W",
                "ignore",
                "-m",
                "sslyze",
                f"--json_out={out}",
                "--mozilla_config=disable",
                "--certinfo",
                "--tlsv1",
                "--tlsv1_2",
                "--tlsv1_3",
                "--heartbleed",
                "--robot",
                "--reneg",
                "--compression",
                "--fallback",
                "--openssl_ccs",
                f"localhost:{port}",
            ],
            capture_output=True,
            timeout=120,
            check=True,
        )
    doc = json.loads(out.read_text())
    # keep the fuzzing fast: trim the long lists of rejected suites and trust-store results
    for attempt in doc["server_scan_results"][0]["scan_result"].values():
        result = (attempt or {}).get("result") or {}
        if "rejected_cipher_suites" in result:
            result["rejected_cipher_suites"] = result["rejected_cipher_suites"][:2]
    return doc


@FUZZ
@given(st.text(max_size=200) | st.binary(max_size=200) | json_values.map(json.dumps))
def test_sslyze_parser_on_random_input(text):
    _only_scanner_error(parse_sslyze_json, text)


@pytest.mark.slow
@FUZZ
@given(data=st.data())
def test_sslyze_parser_on_damaged_real_output(real_sslyze_doc, data):
    text = data.draw(mutated_json(real_sslyze_doc))
    _only_scanner_error(lambda t: parse_sslyze_json(t, "localhost"), text)


# --- ZAP JSON -------------------------------------------------------------------------------------------------

ZAP_ALERT_KEYS = [
    "pluginid",
    "alertRef",
    "alert",
    "name",
    "riskcode",
    "confidence",
    "desc",
    "instances",
    "count",
    "solution",
    "otherinfo",
    "reference",
    "cweid",
    "wascid",
    "sourceid",
]
ZAP_INSTANCE_KEYS = ["uri", "method", "param", "attack", "evidence", "otherinfo"]
# mostly text and numbers (what ZAP writes), sometimes any JSON value
plausible = st.one_of(
    st.sampled_from(
        [
            "0",
            "1",
            "2",
            "3",
            "4",
            "-1",
            "10038",
            "x",
            "²",
            "http://h:8080/a",
            "https://[::1]:443/",
            "http://h:0/",
            "http://[bad/",
            "<p>a</p>",
            "CVE-2020-1234",
            "9" * 30,
        ]
    ),
    st.text(max_size=10),
    st.integers(-1, 70000),
    json_values,
)


def mostly(valid, junk=None):
    """Usually a value ZAP would write (so the fuzzing gets past the first checks), sometimes anything."""
    junk = junk if junk is not None else plausible
    return st.integers(0, 9).flatmap(lambda i: junk if i == 0 else valid)


zap_urls = st.sampled_from(["http://h:8080/a", "https://h/", "http://127.0.0.1:8080/?q=1"])
zap_instances = st.lists(
    st.fixed_dictionaries({"uri": mostly(zap_urls)}, optional={k: plausible for k in ZAP_INSTANCE_KEYS if k != "uri"}),
    max_size=3,
)
zap_alerts = st.lists(
    st.fixed_dictionaries(
        {
            "riskcode": mostly(st.sampled_from(["0", "1", "2", "3"])),
            "confidence": mostly(st.sampled_from(["1", "2", "3", "4"])),
            "alert": mostly(st.text(min_size=1, max_size=10)),
        },
        optional={
            **{k: plausible for k in ZAP_ALERT_KEYS if k not in ("riskcode", "confidence", "alert", "instances")},
            "instances": mostly(zap_instances),
        },
    ),
    min_size=1,
    max_size=3,
)
zap_docs = st.fixed_dictionaries(
    {
        "@version": mostly(st.text(max_size=8)),
        "site": mostly(
            st.lists(
                st.fixed_dictionaries({"@name": mostly(zap_urls), "alerts": mostly(zap_alerts)}), min_size=1, max_size=2
            )
        ),
    }
)


@FUZZ
@given(st.text(max_size=200) | st.binary(max_size=200) | json_values.map(json.dumps))
def test_zap_parser_on_random_input(text):
    _only_scanner_error(parse_zap_json, text)


@FUZZ
@given(zap_docs.map(json.dumps))
def test_zap_parser_on_random_reports(text):
    _only_scanner_error(parse_zap_json, text)


@pytest.mark.parametrize("fixture", ZAP_FIXTURES, ids=lambda p: p.name)
def test_zap_parser_on_damaged_documented_reports(fixture):
    base = json.loads(fixture.read_text())

    @FUZZ
    @given(mutated_json(base))
    def run(text):
        _only_scanner_error(parse_zap_json, text)

    run()
