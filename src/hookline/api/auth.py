"""``X-API-KEY`` authentication: every /api route resolves the key to its workspace."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader

from hookline.domain.keys import Principal, Role
from hookline.store.keys import authenticate

api_key_header = APIKeyHeader(name="X-API-KEY", auto_error=False, description="Your API key")


async def current_principal(
    request: Request, api_key: Annotated[str | None, Depends(api_key_header)]
) -> Principal:
    if not api_key:
        raise HTTPException(401, "missing X-API-KEY header")
    principal = await authenticate(request.app.state.engine, api_key)
    if principal is None:
        raise HTTPException(401, "invalid or revoked API key")
    return principal


async def publisher(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    if principal.role is not Role.PUBLISHER:
        raise HTTPException(403, "publishing events needs a publisher key")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
Publisher = Annotated[Principal, Depends(publisher)]
