"""CSV injection, as an attacker does it: request scans with email addresses a spreadsheet would run as formulas
(the local part of an address may start with = + -), then read the History export back as a spreadsheet would."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from lib.core.text import csv_cell
from lib.insights.history_queries import HistoryFilters, export_csv
from lib.services.intake import submit

EVIL = ["=1+2@evil.example", "+cmd@evil.example", "-2+3@evil.example", "=HYPERLINK@evil.example"]


def test_formula_cells_in_the_history_export_read_back_as_text(runtime) -> None:
    for email in EVIL:
        assert submit(runtime, "http://127.0.0.1:9/", email, {"web": {}}).ok
    submit(runtime, "http://127.0.0.1:9/", "ana@example.com", {"web": {}})
    today = date.today()
    rows = list(csv.DictReader(io.StringIO(export_csv(runtime.sessions, HistoryFilters(today, today)).decode())))
    by_requester = {r["requester"] for r in rows}
    assert by_requester == {"'" + e for e in EVIL} | {"ana@example.com"}
    for row in rows:
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row.values() if cell)


@pytest.mark.parametrize("cell", ["=cmd|' /C calc'!A0", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"])
def test_every_owasp_formula_start_is_neutralised(cell: str) -> None:
    assert csv_cell(cell) == "'" + cell


def test_ordinary_cells_and_numbers_are_unchanged() -> None:
    assert csv_cell("https://example.com/") == "https://example.com/"
    assert csv_cell(-3.5) == -3.5 and csv_cell(None) is None
