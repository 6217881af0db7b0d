"""Unauthenticated routes: health for probes, and /docs pointing at the API's own docs page."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

router = APIRouter(tags=["meta"])


@router.get("/api/v1/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/docs", include_in_schema=False)
def docs() -> RedirectResponse:
    return RedirectResponse("/api/v1/docs")
