"""FastAPI dependencies: the services, the caller's principal, and the roles a route
allows (declared on the route, so the OpenAPI document says who may call it)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader

from hookline.app import Services
from hookline.domain.keys import Permission, Principal

api_key_header = APIKeyHeader(name="X-API-KEY", auto_error=False, description="Your API key")


async def get_services(request: Request) -> Services:
    # async: FastAPI runs a plain function dependency in a worker thread, a hand-off
    # and back on every request.
    return request.app.state.services  # type: ignore[no-any-return]


ServicesDep = Annotated[Services, Depends(get_services)]


async def current_principal(
    request: Request, api_key: Annotated[str | None, Depends(api_key_header)]
) -> Principal:
    services: Services = request.app.state.services
    return await services.keys.authenticate(api_key)


def allowing(permission: Permission) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """The caller's principal, once its role holds ``permission`` (else 403 before the
    body is looked at). One dependency, not one on ``current_principal``: FastAPI's work
    per dependency is a good part of a publish's."""

    async def principal_with_permission(
        request: Request, api_key: Annotated[str | None, Depends(api_key_header)]
    ) -> Principal:
        principal = await current_principal(request, api_key)
        principal.require(permission)
        return principal

    principal_with_permission.permission = permission  # type: ignore[attr-defined]
    return principal_with_permission


AnyRole = Annotated[Principal, Depends(current_principal)]
Integrator = Annotated[Principal, Depends(allowing(Permission.MANAGE_WEBHOOKS))]
Publisher = Annotated[Principal, Depends(allowing(Permission.PUBLISH))]
Admin = Annotated[Principal, Depends(allowing(Permission.MANAGE_WORKSPACES))]
EventReader = Annotated[Principal, Depends(allowing(Permission.READ_EVENTS))]
