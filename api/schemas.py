"""The API's request and response bodies (they make the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ScanCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: str = Field(max_length=4096, description="The URL to scan, e.g. https://example.com/")
    scanners: list[str] = Field(
        default_factory=lambda: ["portscan", "web", "tls"], max_length=8, description="portscan, web, tls"
    )
    options: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description='Per scanner, e.g. {"portscan": {"ports": "1-1024", "service_version": true, "tls_ciphers": '
        'false}, "web": {"path": "/", "depth": 1}}; tls_ciphers (nmap ssl-enum-ciphers, classed intrusive) is opt-in; '
        "a name that is not one of the scanner's options is refused (422 on `<scanner>.<name>`)",
    )
    callback_url: str = Field("", max_length=4096, description="POSTed the scan's final status when it ends")


class Links(BaseModel):
    self: str
    findings: str
    diff: str
    report: str
    page: str


class Step(BaseModel):
    name: str
    label: str = ""
    state: str
    tool: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_s: float | None = None
    message: str = ""


class ScanSummary(BaseModel):
    id: str
    target: str
    status: str
    status_reason: str = ""
    requested_by: str
    requested_via: str = Field(description="form (the portal), api (an API token) or schedule (a schedule's run)")
    scanners: dict[str, dict[str, Any]]
    created_at: datetime
    confirmed_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    counts: dict[str, int] = {}
    diff_counts: dict[str, int] = {}
    has_report: bool = False
    links: Links


class ScanDetail(ScanSummary):
    steps: list[Step] = []
    progress_note: str = ""
    ownership_instructions: str = ""


class ScanAccepted(BaseModel):
    id: str
    status: str
    status_reason: str = ""
    ownership_instructions: str = ""
    links: Links


class ScanList(BaseModel):
    items: list[ScanSummary]
    total: int
    limit: int
    offset: int
    next: str | None = None


class Findings(BaseModel):
    scan_id: str
    status: str
    counts: dict[str, int]
    findings: list[dict[str, Any]]


class DiffOut(BaseModel):
    scan_id: str
    compared: bool = Field(description="False: the first scan of this host, nothing to compare with")
    counts: dict[str, int]
    new: list[dict[str, Any]]
    unchanged: list[dict[str, Any]]
    fixed: list[dict[str, Any]]


class Problem(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str = ""
    errors: dict[str, str] = {}
