"""What routes depend on: the process's Runtime and the authenticated caller with the scope a route needs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.problems import Problem
from lib.runtime import Runtime
from lib.services.api_tokens import AuthError, Caller, authenticate

bearer = HTTPBearer(auto_error=False, description="An API token from the portal's Tokens page (sbk_…).")


def runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def require(scope: str) -> Callable[..., object]:
    """A dependency that answers 401/403 unless the bearer token is live and has `scope`."""

    async def caller(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        rt: Annotated[Runtime, Depends(runtime)],
    ) -> Caller:
        header = f"Bearer {credentials.credentials}" if credentials else request.headers.get("authorization", "")
        try:
            who = authenticate(rt.sessions, header, scope)  # one indexed read (a write once a minute)
        except AuthError as e:
            challenge = {"WWW-Authenticate": 'Bearer realm="scanboard"'} if e.status == 401 else None
            raise Problem(e.status, str(e), headers=challenge) from None
        request.state.caller = who
        return who

    return caller
