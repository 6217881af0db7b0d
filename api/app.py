"""The API's app factory: one Runtime per process (the same composition root as the portal), problem+json
errors, and an audit row for every call under /api/v1."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import problems
from api.routes import meta, scans
from lib.config import ConfigError, Settings, load_settings
from lib.runtime import Runtime, build_runtime
from lib.services.api_tokens import Authenticator
from lib.services.audit import ApiCall, AuditLog
from lib.services.scan_queries import StatusCache

API_PREFIX = "/api/v1"
AUTH_CACHE_SECONDS = 1.0  # how long a revoked token may still be accepted by a running API process
UNAUDITED = (f"{API_PREFIX}/health", f"{API_PREFIX}/docs", f"{API_PREFIX}/openapi.json")


def create_app(rt: Runtime | None = None) -> FastAPI:
    """The app over a given Runtime (tests) or one built from the environment and started with the server.
    The environment is read here, in the factory, so a bad value stops `uvicorn --factory` with its message
    (exit 2) before the server starts, not with a traceback from its lifespan."""
    settings = rt.settings if rt is not None else _settings_or_exit()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = rt is None
        app.state.runtime = rt or build_runtime(settings).start()
        app.state.authenticator = Authenticator(app.state.runtime.sessions, ttl_seconds=AUTH_CACHE_SECONDS)
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
    app.add_middleware(AuditMiddleware)
    return app


class AuditMiddleware:
    """Queue who called what and the answer's status for the audit log (written in batches). Plain ASGI: the
    response streams through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(API_PREFIX) or path in UNAUDITED:
            await self.app(scope, receive, send)
            return
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            state = scope.get("state", {})
            caller, client = state.get("caller"), scope.get("client")
            scope["app"].state.audit.record(
                ApiCall(
                    scope["method"],
                    path,
                    status,
                    caller.prefix if caller else "",
                    caller.owner_email if caller else "",
                    client[0] if client else "",
                    state.get("scan_id", ""),
                )
            )


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except ConfigError as e:
        print(e, file=sys.stderr)
        raise SystemExit(2) from None
