"""RFC 9457 problem details: every error the API answers is application/problem+json with a clear detail."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_TYPE = "application/problem+json"
MAX_INSTANCE = 200  # the request path echoed back: enough to recognise it, never a client's megabyte


class Problem(Exception):
    """Raised by a route: becomes a problem+json answer. `errors` maps request fields to messages."""

    def __init__(self, status: int, detail: str, errors: dict[str, str] | None = None, headers: Any = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.errors, self.headers = status, detail, errors or {}, headers or {}


def problem_response(
    status: int, detail: str, instance: str = "", errors: dict[str, str] | None = None, headers: Any = None
) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status}
    body["detail"] = detail
    if instance:
        body["instance"] = instance if len(instance) <= MAX_INSTANCE else instance[:MAX_INSTANCE] + "…"
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_TYPE, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc if p not in ("body", "query", "path", "header"))


def _json_syntax(error: dict[str, Any]) -> tuple[str, str]:
    """The detail and the `body` message for a body that is not JSON at all (its loc ends in a character
    offset, which is not a field)."""
    loc = tuple(error.get("loc", ()))
    at = f" (at character {loc[-1]})" if len(loc) > 1 and isinstance(loc[-1], int) else ""
    reason = str((error.get("ctx") or {}).get("error", "")).strip()
    return f"The request body is not valid JSON{at}.", f"Not valid JSON{at}" + (f": {reason}." if reason else ".")


def install(app: FastAPI) -> None:
    """Problem answers for our errors, FastAPI's validation errors, unknown routes and anything unforeseen."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.detail, request.url.path, exc.errors, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        syntax = [e for e in exc.errors() if e.get("type") == "json_invalid"]
        if syntax:
            detail, message = _json_syntax(syntax[0])
            return problem_response(422, detail, request.url.path, errors={"body": message})
        errors = {_field(tuple(e.get("loc", ()))) or "body": str(e.get("msg", "invalid")) for e in exc.errors()}
        detail = "The request is not valid: " + "; ".join(f"{k}: {v}" for k, v in errors.items())
        return problem_response(422, detail, request.url.path, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).description
        if exc.status_code == 404 and exc.detail == "Not Found":
            detail = f"There is no API endpoint at {request.url.path}; see /api/v1/docs."
        return problem_response(exc.status_code, detail, request.url.path, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(500, "An internal error occurred; it was logged.", request.url.path)
