"""Every report file is served as the same media type by the S3 upload and the Reports page's download button."""

from datetime import UTC, datetime

from lib.adapters.storage import REPORT_FILES, StoredReport
from lib.core.media_types import media_type
from lib.insights.reports_view import report_groups


def test_each_report_file_has_its_media_type() -> None:
    assert {n: media_type(n) for n in REPORT_FILES} == {
        "report.pdf": "application/pdf",
        "report.html": "text/html",
        "findings.json": "application/json",
        "defectdojo.json": "application/json",
        "findings.csv": "text/csv",
    }
    assert media_type("raw/zap.xml") == "application/xml"
    assert media_type("raw/nmap.txt") == media_type("README") == "application/octet-stream"


def test_reports_page_offers_the_csv_as_csv() -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    (group,) = report_groups(
        [StoredReport("abc", "findings.csv", 10, when), StoredReport("abc", "report.pdf", 9, when)]
    )
    assert [(f.name, f.mime) for f in group.files] == [("report.pdf", "application/pdf"), ("findings.csv", "text/csv")]
