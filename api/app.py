"""The API's app factory: one Runtime per process (the same composition root as the portal), problem+json
errors, and an audit row for every call under /api/v1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response

from api import problems
from api.routes import meta, scans
from lib.config import load_settings
from lib.runtime import Runtime, build_runtime
from lib.services.audit import ApiCall, AuditLog
from lib.services.scan_queries import StatusCache

API_PREFIX = "/api/v1"
UNAUDITED = (f"{API_PREFIX}/health", f"{API_PREFIX}/docs", f"{API_PREFIX}/openapi.json")


def create_app(rt: Runtime | None = None) -> FastAPI:
    """The app over a given Runtime (tests) or one built from the environment and started with the server."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = rt is None
        app.state.runtime = rt or build_runtime(load_settings()).start()
        app.state.audit = AuditLog(app.state.runtime.sessions).start()
        try:
            yield
        finally:
            app.state.audit.stop()
            if owned:
                app.state.runtime.stop()

    app = FastAPI(
        title="scanboard API",
        version="1",
        description="Ask for security scans and read their results from a pipeline. Authenticate with an API "
        "token from the portal's Tokens page: `Authorization: Bearer sbk_…`.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    if rt is not None:
        app.state.runtime = rt
    app.state.status_cache = StatusCache(ttl_seconds=1.0)
    problems.install(app)
    app.include_router(scans.router)
    app.include_router(meta.router)
    app.middleware("http")(_audit)
    return app


async def _audit(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """Queue who called what and the answer's status for the audit log (written in batches)."""
    response = await call_next(request)
    path = request.url.path
    if path.startswith(API_PREFIX) and path not in UNAUDITED:
        caller = getattr(request.state, "caller", None)
        request.app.state.audit.record(
            ApiCall(
                request.method,
                path,
                response.status_code,
                caller.prefix if caller else "",
                caller.owner_email if caller else "",
                request.client.host if request.client else "",
                getattr(request.state, "scan_id", ""),
            )
        )
    return response
