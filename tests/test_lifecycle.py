"""The whole lifecycle on the embedded engine against real targets on 127.0.0.1, with real SMTP:
submit -> confirmation mail -> follow its link -> scan runs -> findings, PDF and report mail; then a rescan
after fixing one header shows exactly that finding as fixed."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from lib.adapters.models import SUCCEEDED
from lib.adapters.repository import finding_rows, get_scan, get_steps
from lib.core.findings import Finding
from lib.insights.progress import findings_table
from lib.runtime import build_runtime
from lib.services.intake import confirm, submit
from testkit.targets import http_target, open_ports, tls_target
from tests.conftest import wait_until
from tests.smtp_server import links

pytestmark = pytest.mark.slow


def link_in(msg) -> str:
    return links(msg)[-1]  # the target URL is linked too; the action link comes last


def run_scan(rt, smtp, target: str, scanners: dict) -> str:
    """Request, confirm through the emailed link, and wait for the scan to finish; returns its id."""
    before = len(smtp.messages)
    out = submit(rt, target, "ana@example.com", scanners)
    assert out.ok, out.errors
    mail = wait_until(lambda: smtp.messages[before:] and smtp.messages[before], timeout=10)
    assert mail["Subject"].startswith("Confirm your security scan")
    link = link_in(mail)
    assert link.startswith("http://portal.test/confirm?token=")
    result = confirm(rt, parse_qs(urlsplit(link).query)["token"][0])
    assert result.status == "started" and result.scan_id == out.scan_id
    wait_until(lambda: get_scan(rt.sessions, out.scan_id).finished_at, timeout=120, interval=0.2)
    return out.scan_id


def test_request_confirm_scan_report_mail(make_settings, smtp) -> None:
    settings = make_settings(smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_starttls=False)
    rt = build_runtime(settings).start()
    try:
        with open_ports(2) as ports, http_target() as web, tls_target() as tls:
            scanners = {"portscan": {"ports": ",".join(map(str, ports))}, "web": {"depth": 1}, "tls": {"port": tls}}
            scan_id = run_scan(rt, smtp, f"http://127.0.0.1:{web}/", scanners)
            scan = get_scan(rt.sessions, scan_id)
            assert scan.status == SUCCEEDED, scan.status_reason
            assert [(s.name, s.state) for s in get_steps(rt.sessions, scan_id)] == [
                ("portscan", "succeeded"),
                ("web", "succeeded"),
                ("tls", "succeeded"),
                ("report", "succeeded"),
                ("publish", "succeeded"),
                ("notify", "succeeded"),
            ]
            rows = finding_rows(rt.sessions, scan_id)
            rules = {r.rule_id for r in rows}
            assert {"missing-csp", "missing-x-frame-options", "cookie-no-httponly"} <= rules
            port_findings = [Finding.from_dict(r.data) for r in rows if r.rule_id == "open-port"]
            assert len(port_findings) == 1  # one finding (open port, host), the ports are its instances
            assert set(ports) <= {a.port for a in port_findings[0].affected}
            assert any("self-signed" in r.title.lower() for r in rows)
            assert sum(scan.severity_counts.values()) == len(rows)

            pdf = rt.store.read(scan_id, "report.pdf")
            assert pdf.startswith(b"%PDF-")
            report_mail = wait_until(lambda: [m for m in smtp.messages if "report" in m["Subject"]], timeout=10)[0]
            assert f"scan={scan_id}" in link_in(report_mail)
            assert "ready" in report_mail["Subject"]
    finally:
        rt.stop()


def test_rescan_after_fixing_a_header_shows_exactly_one_fixed(make_settings, smtp) -> None:
    settings = make_settings(smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_starttls=False)
    rt = build_runtime(settings).start()
    headers: dict[str, str] = {}
    try:
        with http_target(headers) as web:
            target = f"http://127.0.0.1:{web}/"
            first = run_scan(rt, smtp, target, {"web": {}})
            headers["X-Content-Type-Options"] = "nosniff"
            second = run_scan(rt, smtp, target, {"web": {}})
        fp_first = {r.issue_fp for r in finding_rows(rt.sessions, first)}
        rows = finding_rows(rt.sessions, second)
        assert [r.rule_id for r in rows if r.diff_state == "fixed"] == ["missing-x-content-type-options"]
        assert not [r for r in rows if r.diff_state == "new"]
        assert {r.issue_fp for r in rows if r.diff_state == "unchanged"} == fp_first - {
            r.issue_fp for r in rows if r.diff_state == "fixed"
        }
        assert get_scan(rt.sessions, second).diff_counts == {"new": 0, "fixed": 1, "unchanged": len(fp_first) - 1}
    finally:
        rt.stop()


def test_findings_of_a_scanner_that_failed_last_time_are_not_called_new(make_settings, smtp) -> None:
    """The web scan failed last time (nothing listened); this time it works: its findings are not "new" (a CI
    gate on new findings must not fail on them) but not compared, and the scan after that compares again."""
    settings = make_settings(smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_starttls=False)
    rt = build_runtime(settings).start()
    try:
        with open_ports(1) as (closed,):
            pass  # now nothing listens there
        failed = run_scan(rt, smtp, f"http://127.0.0.1:{closed}/", {"web": {}})
        assert ("web", "failed") in [(s.name, s.state) for s in get_steps(rt.sessions, failed)]
        with http_target() as web:
            target = f"http://127.0.0.1:{web}/"
            first_good = run_scan(rt, smtp, target, {"web": {}})
            rows = finding_rows(rt.sessions, first_good)
            assert rows and {r.diff_state for r in rows} == {"not_compared"}
            assert {row["change"] for row in findings_table(rows)} == {"not compared"}  # the progress page's table
            counts = get_scan(rt.sessions, first_good).diff_counts
            assert counts == {"new": 0, "fixed": 0, "unchanged": 0, "not_compared": len(rows)}
            again = run_scan(rt, smtp, target, {"web": {}})
        assert {r.diff_state for r in finding_rows(rt.sessions, again)} == {"unchanged"}
    finally:
        rt.stop()
