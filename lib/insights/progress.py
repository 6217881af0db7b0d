"""The progress page's tables: one row per step of the DAG view, one per stored finding."""

from __future__ import annotations

from lib.adapters.models import FindingRecord
from lib.core.dag import DagView
from lib.core.findings import SEVERITIES, Finding
from lib.engines.report import headline, where


def steps_table(view: DagView) -> list[dict]:
    """One row per step for the table under the graph: state, tool, times, duration, why."""
    rows = []
    for n in view.nodes:
        rows.append(
            {
                "step": n.label,
                "state": n.state,
                "tool": n.tool,
                "started": n.started_at.strftime("%H:%M:%S") if n.started_at else "",
                "finished": n.finished_at.strftime("%H:%M:%S") if n.finished_at else "",
                "duration (s)": round(n.duration_s, 1) if n.duration_s is not None else None,
                "details": n.message,
            }
        )
    return rows


def _ordered(rows: list[FindingRecord]) -> list[tuple[FindingRecord, Finding]]:
    order = {s: i for i, s in enumerate(SEVERITIES)}
    apart = {"triaged": 1, "fixed": 2}  # open findings first, then the triaged ones, then the fixed ones
    ranked = sorted(rows, key=lambda r: (apart.get(r.diff_state, 0), order.get(r.severity, 9), r.title))
    return [(r, Finding.from_dict(r.data)) for r in ranked]


def findings_table(rows: list[FindingRecord]) -> list[dict]:
    """One row per stored finding (rule, host), most severe first, triaged then fixed ones last; "— 21 URLs"
    when grouped."""
    return [
        {
            "severity": r.severity,
            "finding": headline(f),
            "change": r.diff_state.replace("_", " "),  # not_compared reads "not compared"
            "tools": ", ".join(f.tools),
            "where": where(f),
            "evidence": f.evidence,
        }
        for r, f in _ordered(rows)
    ]


def instance_lists(rows: list[FindingRecord]) -> list[tuple[str, list[str]]]:
    """(headline, places) for each finding with several instances: the page folds each list under its headline."""
    return [(headline(f), [a.where() for a in f.affected]) for r, f in _ordered(rows) if len(f.affected) > 1]
