"""What routes depend on: the process's Runtime and the authenticated caller with the scope a route needs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.problems import Problem
from lib.runtime import Runtime
from lib.services.api_tokens import Authenticator, AuthError, Caller

bearer = HTTPBearer(auto_error=False, description="An API token from the portal's Tokens page (sbk_…).")


async def runtime(request: Request) -> Runtime:
    """async: FastAPI runs a plain-def dependency in a worker thread, a hop per request for one attribute read."""
    return request.app.state.runtime


def require(scope: str) -> Callable[..., object]:
    """A dependency that answers 401/403 unless the bearer token is live and has `scope`."""

    async def caller(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Caller:
        authenticator: Authenticator = request.app.state.authenticator
        header = f"Bearer {credentials.credentials}" if credentials else request.headers.get("authorization", "")
        try:
            who = authenticator.caller(header, scope)  # the token's row from a 1 s cache; checks on every call
        except AuthError as e:
            challenge = {"WWW-Authenticate": 'Bearer realm="scanboard"'} if e.status == 401 else None
            raise Problem(e.status, str(e), headers=challenge) from None
        request.state.caller = who
        return who

    return caller
