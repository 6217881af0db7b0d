"""The report people read: a PDF whose first page is not blank and whose text carries every finding, the
diff and what failed; plus findings.json for machines."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from lib.core.findings import Asset, Finding
from lib.engines.report import build_report
from lib.engines.workspace import ScanMeta, StepOutcome, Workspace

pytestmark = pytest.mark.slow


def finding(title: str, severity: str, param: str, step: str = "web") -> Finding:
    return Finding(
        "scanboard-web",
        f"rule-{param}",
        title,
        severity,
        Asset(host="shop.example", port=443, url="https://shop.example/", param=param),
        "1.0",
        cwe=("CWE-693",),
        evidence=f"evidence for {param}",
        remediation=f"fix {param}",
        steps=(step,),
    )


def test_pdf_first_page_is_not_blank_and_text_holds_the_findings(tmp_path) -> None:
    ws = Workspace(tmp_path, "abc123def456")
    ws.write_meta(
        ScanMeta(
            "abc123def456",
            "https://shop.example/",
            "ana@example.com",
            {"web": {"path": "/", "depth": 1}, "tls": {"port": 0}},
            "2026-11-22T10:00:00+00:00",
        )
    )
    ws.write_step(
        StepOutcome(
            "web",
            "succeeded",
            "scanboard-web",
            "1.0",
            "1 page(s) checked",
            findings=[
                finding("Content-Security-Policy header missing", "medium", "csp"),
                finding("Cookie without the HttpOnly flag", "low", "sessionid"),
            ],
        )
    )
    ws.write_step(StepOutcome("tls", "failed", "sslyze", message="TLS handshake with shop.example:443 timed out"))
    previous = [
        finding("Directory listing enabled", "medium", "listing"),
        finding("Content-Security-Policy header missing", "medium", "csp"),
    ]
    result = build_report(ws, previous, previous_scan="0000aaaa1111")

    png = tmp_path / "page"
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(result.pdf), str(png)], check=True)
    page = Image.open(next(tmp_path.glob("page*.png"))).convert("L")
    dark = sum(1 for v in page.getdata() if v < 200)
    assert dark > 0.01 * page.width * page.height  # text and the severity chart, not an empty page

    text = " ".join(
        subprocess.run(["pdftotext", str(result.pdf), "-"], check=True, capture_output=True, text=True).stdout.split()
    )
    for expected in (
        "https://shop.example/",
        "ana@example.com",
        "Content-Security-Policy header missing",
        "Cookie without the HttpOnly flag",
        "Directory listing enabled",  # listed as fixed
        "1 new, 1 fixed, 1 unchanged",
        "TLS handshake with shop.example:443",
        "sslyze",
    ):
        assert expected in text, expected

    doc = json.loads(result.json.read_text())
    assert doc["diff"] == {"new": 1, "fixed": 1, "unchanged": 1}
    assert [f["diff_state"] for f in doc["findings"]] == ["unchanged", "new"]
    assert [s["state"] for s in doc["steps"]] == ["skipped", "succeeded", "failed"]


def test_grouped_instances_and_not_applicable_checks(tmp_path) -> None:
    """Python's http.server on a folder: 21 listed directories are one finding with 21 URLs (folded), counted
    once; sslyze finding no TLS on a plain-HTTP target is a note, not a finding."""
    ws = Workspace(tmp_path, "abc123def457")
    ws.write_meta(ScanMeta("abc123def457", "http://files.example:8000/", "ana@example.com", {"web": {}, "tls": {}}))
    listing = [
        Finding(
            "scanboard-web",
            "directory-listing",
            "Directory listing enabled",
            "medium",
            Asset(host="files.example", port=8000, protocol="http", url=f"http://files.example:8000/dir{i:02d}/"),
            steps=("web",),
        )
        for i in range(21)
    ]
    no_tls = Finding(
        "sslyze",
        "tls-unavailable",
        "No TLS service on port 443",
        "medium",
        Asset(host="files.example", port=443, protocol="tcp", url="https://files.example:443/"),
        steps=("tls",),
    )
    ws.write_step(StepOutcome("web", "succeeded", "scanboard-web", "1.0", findings=listing))
    ws.write_step(StepOutcome("tls", "succeeded", "sslyze", "6.3.0", findings=[no_tls]))
    result = build_report(ws, [])
    assert result.counts["medium"] == 1
    assert [f.title for f in result.notes] == ["No TLS service on port 443"]
    doc = json.loads(result.json.read_text())
    assert len(doc["findings"]) == 1 and len(doc["findings"][0]["instances"]) == 21
    assert doc["findings"][0]["rule"] == "web.directory-listing" and doc["notes"][0]["rule"] == "tls.unavailable"
    html = (ws.root / "report.html").read_text()
    assert "Directory listing enabled — 21 URLs" in html and "<details" in html
    assert html.count("http://files.example:8000/dir") == 20  # the PDF lists 20, findings.json all 21
    text = " ".join(
        subprocess.run(["pdftotext", str(result.pdf), "-"], check=True, capture_output=True, text=True).stdout.split()
    )
    assert "Directory listing enabled — 21 URLs" in text
    assert "… and 1 more (all in findings.json and findings.csv)" in text  # the PDF says where the rest is
    assert "Notes: checks that did not apply" in text and "No TLS service on port 443" in text


def test_per_tool_sections_from_the_raw_outputs(tmp_path) -> None:
    """Open ports with service and version from nmap -sV XML, the TLS summary from sslyze JSON, crawled pages
    and headers from web.json, what each scanner ran with; a raw file that does not read is a note."""
    fixtures = Path(__file__).parent / "fixtures"
    ws = Workspace(tmp_path, "abc123def458")
    ws.write_meta(
        ScanMeta("abc123def458", "https://files.example/", "ana@example.com", {"portscan": {"service_version": "true"}})
    )
    ws.raw_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(fixtures / "nmap" / "nmap-7.93-sV-two-hosts.xml", ws.raw_dir / "nmap.xml")
    shutil.copy(fixtures / "sslyze" / "sslyze-6.3.1-openssl-s_server.json", ws.raw_dir / "sslyze.json")
    (ws.raw_dir / "web.json").write_text("{not json")
    ws.write_step(
        StepOutcome(
            "portscan",
            "succeeded",
            "nmap",
            "7.93",
            started_at="2026-12-02T10:00:00+00:00",
            finished_at="2026-12-02T10:00:36.8+00:00",
        )
    )
    build_report(ws, [])
    text = " ".join(
        subprocess.run(
            ["pdftotext", str(ws.root / "report.pdf"), "-"], check=True, capture_output=True, text=True
        ).stdout.split()
    )
    assert "Open ports" in text and "SimpleHTTPServer 0.6" in text and "cpe:/a:openssl:openssl" in text
    assert "ssl/http" in text
    assert "127.0.0.1:44331" in text and "TLSv1 (" in text and "CN=localhost" in text
    assert "service_version=true" in text and "36.8 s" in text
    assert "The raw pages output could not be read" in text


def test_ports_table_shows_the_nmap_script_columns_only_when_scripts_ran(tmp_path) -> None:
    """With http-headers and ssl-enum-ciphers output (real nmap 7.93, fixtures/nmap/PROVENANCE.md) the ports
    table gains the Server header and the TLS ciphers with their least grade; without it, no empty columns."""
    fixtures = Path(__file__).parent / "fixtures" / "nmap"
    for name, shown in (("nmap-7.93-sV-scripts-http-tls.xml", True), ("nmap-7.93-sV-two-hosts.xml", False)):
        ws = Workspace(tmp_path / name, "abc123def459")
        ws.write_meta(ScanMeta("abc123def459", "https://files.example/", "ana@example.com", {"portscan": {}}))
        ws.raw_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy(fixtures / name, ws.raw_dir / "nmap.xml")
        build_report(ws, [])
        html = (ws.root / "report.html").read_text()
        assert ("HTTP server and headers" in html, "TLS ciphers (nmap)" in html) == (shown, shown)
        assert ("Apache/2.4.41 (Ubuntu) PHP/7.4.3" in html) == shown and ("least grade F" in html) == shown
