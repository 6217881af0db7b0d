"""/api/v1/scans: ask for a scan with an API token, read its status, findings (JSON or SARIF), diff, report."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from api.deps import require, runtime
from api.problems import Problem
from api.schemas import DiffOut, Findings, ScanAccepted, ScanCreate, ScanDetail, ScanList
from api.schemas import Problem as ProblemBody
from lib.adapters.models import AWAITING_OWNERSHIP, Scan
from lib.core.api_keys import SCAN_READ, SCAN_WRITE
from lib.core.sarif import to_sarif
from lib.runtime import Runtime
from lib.services.api_tokens import Caller, caller_viewer
from lib.services.intake import submit_confirmed
from lib.services.ownership import instructions as ownership_instructions
from lib.services.scan_queries import (
    MAX_PAGE,
    NotFinished,
    NotVisible,
    diff_of,
    finding_objects,
    findings_of,
    list_page,
    require_finished,
    scan_summary,
    visible_scan,
)

SARIF_MEDIA = "application/sarif+json"
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ProblemBody, "content": {"application/problem+json": {}}} for code in (401, 403, 404, 422)
}
router = APIRouter(prefix="/api/v1/scans", tags=["scans"], responses=ERRORS)
RT = Annotated[Runtime, Depends(runtime)]
Reader = Annotated[Caller, Depends(require(SCAN_READ))]
Writer = Annotated[Caller, Depends(require(SCAN_WRITE))]


def links(request: Request, rt: Runtime, scan_id: str) -> dict[str, str]:
    """The scan's URLs under this request's base URL (string joins: url_for costs as much as the rest of a read)."""
    base = f"{str(request.base_url).rstrip('/')}{router.prefix}/{quote(scan_id, safe='')}"
    page = f"{rt.settings.public_base_url.rstrip('/')}/progress?scan={scan_id}"
    return {
        "self": base,
        "findings": f"{base}/findings",
        "diff": f"{base}/diff",
        "report": f"{base}/report",
        "page": page,
    }


def _scan(request: Request, rt: Runtime, who: Caller, scan_id: str) -> Scan:
    request.state.scan_id = scan_id[:32]
    try:
        return visible_scan(rt.sessions, caller_viewer(rt.settings, who.owner_email), scan_id)
    except NotVisible as e:
        raise Problem(404, str(e)) from None


def _finished(scan: Scan, part: str) -> None:
    try:
        require_finished(scan, part)
    except NotFinished as e:
        raise Problem(409, str(e)) from None


@router.post("", status_code=202, response_model=ScanAccepted, responses={429: ERRORS[422]})
def create_scan(
    body: ScanCreate,
    request: Request,
    response: Response,
    rt: RT,
    who: Writer,
) -> dict:
    """Ask for a scan as the token's owner: validated, scope-checked and limited like the form, no mail."""
    unknown = sorted(set(body.options) - set(body.scanners))
    if unknown:
        names = ", ".join(unknown)
        message = f"Options were given for {names}, not in scanners: add it to scanners or drop its options."
        raise Problem(422, message, {"options": message})
    scanners = {name: body.options.get(name, {}) for name in body.scanners}
    client = request.client.host if request.client else ""
    out = submit_confirmed(rt, body.target, who.owner_email, scanners, client, body.callback_url)
    if "limit" in out.errors:
        raise Problem(429, out.errors["limit"], headers={"Retry-After": "60"})
    if out.errors:
        detail = "The scan was not requested: " + "; ".join(f"{k}: {v}" for k, v in out.errors.items())
        raise Problem(422, detail, out.errors)
    request.state.scan_id = out.scan_id
    scan = _scan(request, rt, who, out.scan_id)
    response.headers["Location"] = str(request.url_for("get_scan", scan_id=scan.id))
    waits = scan.status == AWAITING_OWNERSHIP
    return {
        "id": scan.id,
        "status": scan.status,
        "status_reason": scan.status_reason,
        "ownership_instructions": ownership_instructions(scan.target, scan.ownership_token) if waits else "",
        "links": links(request, rt, scan.id),
    }


@router.get("", response_model=ScanList)
def list_scans(
    request: Request,
    rt: RT,
    who: Reader,
    target: Annotated[str, Query(max_length=4096, description="The exact URL or host")] = "",
    status: Annotated[str, Query(max_length=32)] = "",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict:
    """The scans this token may read, newest first, filtered by target and status."""
    try:
        page = list_page(rt.sessions, caller_viewer(rt.settings, who.owner_email), target, status, limit, offset)
    except ValueError as e:
        raise Problem(422, str(e), {"status": str(e)}) from None
    items = [{**scan_summary(s), "links": links(request, rt, s.id)} for s in page.items]
    more = offset + len(items) < page.total
    nxt = str(request.url.include_query_params(offset=offset + limit)) if more else None
    return {"items": items, "total": page.total, "limit": limit, "offset": offset, "next": nxt}


@router.get("/{scan_id}", response_model=ScanDetail)
async def get_scan(scan_id: str, request: Request, rt: RT, who: Reader) -> dict:
    """Status, each step's state and times, and the severity counts (at most a second old).

    Answered on the event loop: a cached read costs no thread hop; a miss is a few indexed reads."""
    request.state.scan_id = scan_id[:32]
    try:
        detail = request.app.state.status_cache.detail(rt, caller_viewer(rt.settings, who.owner_email), scan_id)
    except NotVisible as e:
        raise Problem(404, str(e)) from None
    scan: Scan = detail["_scan"]
    waits = scan.status == AWAITING_OWNERSHIP
    proof = ownership_instructions(scan.target, scan.ownership_token) if waits else ""
    return {**detail, "ownership_instructions": proof, "links": links(request, rt, scan.id)}


@router.get(
    "/{scan_id}/findings",
    response_model=Findings,
    responses={200: {"content": {SARIF_MEDIA: {}}}, 409: ERRORS[422]},
)
def get_findings(scan_id: str, request: Request, rt: RT, who: Reader) -> Any:
    """The findings in the normalised schema, or a SARIF 2.1.0 log with `Accept: application/sarif+json`."""
    scan = _scan(request, rt, who, scan_id)
    _finished(scan, "findings")
    rows = findings_of(rt.sessions, scan.id)
    if SARIF_MEDIA in request.headers.get("accept", ""):
        pairs = list(zip(finding_objects(rows), [r["diff_state"] if scan.diff_counts else "" for r in rows]))
        doc = to_sarif(pairs, scan.target, scan.id, information_uri=rt.settings.public_base_url)
        return JSONResponse(doc, media_type=SARIF_MEDIA)
    return {"scan_id": scan.id, "status": scan.status, "counts": scan.severity_counts or {}, "findings": rows}


@router.get("/{scan_id}/diff", response_model=DiffOut, responses={409: ERRORS[422]})
def get_diff(scan_id: str, request: Request, rt: RT, who: Reader) -> dict:
    """New, unchanged and fixed findings against the previous scan of the same host."""
    scan = _scan(request, rt, who, scan_id)
    _finished(scan, "diff")
    return diff_of(rt.sessions, scan)


@router.get(
    "/{scan_id}/report",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}, 307: {"description": "to a presigned URL"}, 409: ERRORS[422]},
)
def get_report(scan_id: str, request: Request, rt: RT, who: Reader) -> Response:
    """The PDF report; in cluster mode a redirect to a freshly presigned URL."""
    scan = _scan(request, rt, who, scan_id)
    _finished(scan, "report")
    if not scan.report_key:
        raise Problem(404, f"Scan {scan.id} finished without a report ({scan.status_reason or scan.status}).")
    if rt.store.direct_links:
        return RedirectResponse(rt.store.link(scan.id, "report.pdf"), status_code=307)
    try:
        pdf = rt.store.read(scan.id, "report.pdf")
    except FileNotFoundError:
        raise Problem(404, f"The report of scan {scan.id} is no longer stored.") from None
    headers = {"Content-Disposition": f'attachment; filename="scanboard-{scan.id}.pdf"'}
    return Response(pdf, media_type="application/pdf", headers=headers)
