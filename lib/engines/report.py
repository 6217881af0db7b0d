"""The scan report: findings.json for machines, and a PDF for people (Jinja2 HTML rendered by weasyprint).

weasyprint is pure Python from PyPI, so the same report builds on a fresh laptop and in the worker image with no
LaTeX or browser; see the README for the comparison with pandoc/wkhtmltopdf.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from lib.core.exports import defectdojo_json, findings_csv
from lib.core.findings import (
    SEVERITIES,
    Diff,
    Finding,
    diff,
    group,
    severity_counts,
    sort_key,
    split_not_applicable,
)
from lib.core.pipeline import SCANNER_LABELS, SCANNERS
from lib.core.triage import TriageMark, split_triaged
from lib.engines.tool_sections import tool_sections
from lib.engines.workspace import ScanMeta, StepOutcome, Workspace

TEMPLATES = Path(__file__).with_name("templates")
MAX_PLACES = 20  # instances listed per finding in the PDF; findings.json has all
MAX_CARDS = 100  # findings shown with evidence and fix in the PDF, most severe first; the rest one line each
SEVERITY_COLORS = {"critical": "#7b1fa2", "high": "#c62828", "medium": "#ef6c00", "low": "#f9a825", "info": "#607d8b"}


@dataclass
class ReportResult:
    findings: list[Finding]
    diff: Diff
    notes: list[Finding]
    triaged: list[tuple[Finding, TriageMark]]
    counts: dict[str, int]
    steps: list[StepOutcome]
    pdf: Path
    json: Path
    document: dict[str, Any]


def collect_steps(ws: Workspace, meta: ScanMeta) -> list[StepOutcome]:
    """One outcome per scanner: its stored result, "skipped" if not requested, "failed" if it left no result."""
    out = []
    for name in SCANNERS:
        if name not in meta.scanners:
            out.append(StepOutcome(name, "skipped", message="not requested"))
            continue
        stored = ws.read_step(name)
        out.append(stored or StepOutcome(name, "failed", message="the scanner left no result (killed or timed out)"))
    return out


def where(f: Finding) -> str:
    """One line for where a finding is: its place, or "21 URLs" when it groups several."""
    places = f.affected
    return places[0].where() if len(places) == 1 else f"{len(places)} {f.instance_noun}"


def headline(f: Finding) -> str:
    """ "Directory listing enabled — 21 URLs" for a finding with several instances, else its title."""
    n = len(f.affected)
    return f"{f.title} — {n} {f.instance_noun}" if n > 1 else f.title


def _finding_view(f: Finding, diff_state: str) -> dict[str, Any]:
    return {
        **f.to_dict(),
        "where": where(f),
        "headline": headline(f),
        "places": [a.where() for a in f.affected],
        "instance_noun": f.instance_noun,
        "diff_state": diff_state,
    }


def findings_document(
    meta: ScanMeta,
    steps: list[StepOutcome],
    findings: list[Finding],
    d: Diff,
    previous_scan: str,
    notes: list[Finding] | None = None,
    triaged: list[tuple[Finding, TriageMark]] | None = None,
) -> dict[str, Any]:
    """The machine-readable findings.json: what was asked, what ran, the findings (one per rule and host, with
    their instances), the checks that did not apply (notes) and the diff."""
    return {
        "schema": "scanboard.findings/2",
        "scan": meta.__dict__,
        "previous_scan": previous_scan,
        "steps": [s.info() for s in steps],
        "counts": severity_counts(findings),
        "diff": d.counts(),
        "findings": [{**f.to_dict(), "diff_state": d.state_of(f)} for f in findings],
        "fixed": [f.to_dict() for f in d.fixed],
        "notes": [f.to_dict() for f in notes or ()],
        "triaged": [{**f.to_dict(), "triage": m.to_dict()} for f, m in triaged or ()],
    }


def render_html(
    meta: ScanMeta,
    steps: list[StepOutcome],
    findings: list[Finding],
    d: Diff,
    previous_scan: str,
    notes: list[Finding] | None = None,
    triaged: list[tuple[Finding, TriageMark]] | None = None,
    sections: dict[str, Any] | None = None,
) -> str:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]))
    counts = severity_counts(findings)
    top = max(counts.values(), default=0) or 1
    groups = _severity_groups(findings, d)
    return env.get_template("report.html.j2").render(
        meta=meta,
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        steps=[{**s.info(), "label": SCANNER_LABELS.get(s.step, s.step)} for s in steps],
        total=len(findings),
        severity_rows=[
            {"severity": s, "count": counts[s], "width": 110 * counts[s] / top, "color": SEVERITY_COLORS[s]}
            for s in SEVERITIES
        ],
        previous_scan=previous_scan,
        diff=d.counts(),
        new_findings=[_finding_view(f, "new") for f in d.new],
        fixed_findings=[_finding_view(f, "fixed") for f in d.fixed],
        groups=[g for g in groups if g["count"]],
        brief_count=sum(len(g["brief"]) for g in groups),
        max_cards=MAX_CARDS,
        notes=[_finding_view(f, "note") for f in notes or ()],
        triaged=[{**_finding_view(f, "triaged"), "mark": m.describe()} for f, m in triaged or ()],
        max_places=MAX_PLACES,
        sections=sections or {},
    )


def _severity_groups(findings: list[Finding], d: Diff) -> list[dict[str, Any]]:
    """Findings by severity: the first MAX_CARDS (most severe first) as cards, the rest as one-line entries,
    because weasyprint lays out a card in ~50 ms and a line in ~1.5 ms (bench/report.py)."""
    groups: dict[str, dict[str, Any]] = {
        sev: {"severity": sev, "findings": [], "brief": [], "count": 0} for sev in SEVERITIES
    }
    for shown, f in enumerate(sorted(findings, key=sort_key)):
        g = groups[f.severity]
        g["count"] += 1
        g["findings" if shown < MAX_CARDS else "brief"].append(_finding_view(f, d.state_of(f)))
    return list(groups.values())


EXPORTS = {"defectdojo.json": "DefectDojo Generic Findings Import (JSON)", "findings.csv": "CSV"}


def write_exports(folder: Path, doc: dict[str, Any]) -> list[Path]:
    """defectdojo.json and findings.csv beside findings.json (published with the report)."""
    dojo = folder / "defectdojo.json"
    dojo.write_text(json.dumps(defectdojo_json(doc), indent=2))
    table = folder / "findings.csv"
    table.write_text(findings_csv(doc), newline="")
    return [dojo, table]


def html_to_pdf(html: str, out: Path) -> Path:
    from weasyprint import HTML  # imported here: it is slow to import and only the report step needs it

    HTML(string=html).write_pdf(out)
    return out


def build_report(
    ws: Workspace,
    previous: list[Finding],
    previous_scan: str = "",
    marks: dict[tuple[str, str], TriageMark] | None = None,
    now: datetime | None = None,
    previous_succeeded: Collection[str] | None = None,
) -> ReportResult:
    """Read every scanner's result from the workspace, group, set aside what does not apply (notes) and what
    is triaged (marks per host and rule), diff the open findings against the previous scan's open findings
    for the scanners that succeeded both times (`previous_succeeded`: the previous scan's; None when unknown,
    taken as all), so an unrun scanner's findings are not called fixed nor a scanner's first good run's new,
    and write findings.json, report.html and report.pdf."""
    meta = ws.read_meta()
    steps = collect_steps(ws, meta)
    ok_steps = {s.step for s in steps if s.state == "succeeded"}
    both = ok_steps if previous_succeeded is None else ok_steps & set(previous_succeeded)
    when = now or datetime.now(UTC)
    grouped = group(f for s in steps if s.state == "succeeded" for f in s.findings)
    applicable, notes = split_not_applicable(grouped, meta.target)
    findings, triaged = split_triaged(applicable, marks or {}, when)
    comparable = [f for f in previous if set(f.steps) & both] if previous_scan else []
    comparable = split_triaged(comparable, marks or {}, when)[0]
    stamp = when.isoformat(timespec="seconds")
    seen = [f.with_seen(stamp, stamp) for f in findings]

    def compared(f: Finding) -> bool:  # its scanner succeeded both times (everything is new on a first scan)
        return not previous_scan or bool(set(f.steps) & both)

    d = diff([f for f in seen if compared(f)], comparable, [f for f in seen if not compared(f)])
    first_seen = {f.issue_fp: f.first_seen for f in d.unchanged}
    findings = [f.with_seen(first_seen.get(f.issue_fp) or stamp, stamp) for f in findings]
    doc = findings_document(meta, steps, findings, d, previous_scan, notes, triaged)
    json_path = ws.write_json("findings.json", doc)
    write_exports(ws.root, doc)
    sections = tool_sections(ws.raw_dir, meta, steps)
    html = render_html(meta, steps, findings, d, previous_scan, notes, triaged, sections)
    (ws.root / "report.html").write_text(html)
    pdf = html_to_pdf(html, ws.root / "report.pdf")
    return ReportResult(findings, d, notes, triaged, doc["counts"], steps, pdf, json_path, doc)
