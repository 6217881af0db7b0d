"""A scan's working folder, the one layout both engines share (a local folder, or the RWX volume in the cluster):

<workdir>/<scan-id>/scan.json           what was asked: target, email, scanners and options, time
<workdir>/<scan-id>/steps/<step>.json   each scanner's outcome: state, tool, version, findings, reason
<workdir>/<scan-id>/raw/                each tool's raw output
<workdir>/<scan-id>/report.pdf, report.html, findings.json
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from lib.core.findings import Finding


@dataclass
class ScanMeta:
    scan_id: str
    target: str
    email: str
    scanners: dict[str, dict[str, Any]]
    requested_at: str = ""
    confirmed_at: str = ""


@dataclass
class StepOutcome:
    step: str
    state: str  # succeeded | failed | skipped
    tool: str = ""
    tool_version: str = ""
    summary: str = ""
    message: str = ""  # why it failed or was skipped
    raw_files: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    started_at: str = ""
    finished_at: str = ""

    def info(self) -> dict[str, Any]:
        """Everything but the findings (the report's step table), without serialising the findings."""
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "findings"}
        d["raw_files"] = list(self.raw_files)
        return d

    def to_dict(self) -> dict[str, Any]:
        return {**self.info(), "findings": [f.to_dict() for f in self.findings]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StepOutcome:
        kw = {k: v for k, v in d.items() if k in cls.__dataclass_fields__ and k != "findings"}
        return cls(**kw, findings=[Finding.from_dict(f) for f in d.get("findings", [])])


def _write_json(path: Path, data: Any) -> None:
    """Write aside then rename, so a reader never sees half a file (a pod killed mid-write leaves none)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    tmp.replace(path)


class Workspace:
    def __init__(self, workdir: Path, scan_id: str) -> None:
        if not scan_id.isalnum():
            raise ValueError("invalid scan id")
        self.root = Path(workdir) / scan_id
        self.scan_id = scan_id

    @property
    def raw_dir(self) -> Path:
        d = self.root / "raw"
        d.mkdir(parents=True, exist_ok=True)
        return d

    def write_meta(self, meta: ScanMeta) -> None:
        _write_json(self.root / "scan.json", asdict(meta))

    def read_meta(self) -> ScanMeta:
        return ScanMeta(**json.loads((self.root / "scan.json").read_text()))

    def write_step(self, outcome: StepOutcome) -> None:
        _write_json(self.root / "steps" / f"{outcome.step}.json", outcome.to_dict())

    def read_step(self, step: str) -> StepOutcome | None:
        path = self.root / "steps" / f"{step}.json"
        if not path.is_file():
            return None
        return StepOutcome.from_dict(json.loads(path.read_text()))

    def write_json(self, name: str, data: Any) -> Path:
        _write_json(self.root / name, data)
        return self.root / name
