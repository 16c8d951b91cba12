"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel

from hookline import __version__
from hookline.api import admin, docs, event_types, events, health, metrics, webhooks
from hookline.api.deps import current_principal
from hookline.api.errors import install_error_handlers
from hookline.api.limits import BodySizeLimit
from hookline.app import running
from hookline.config import Settings
from hookline.domain.keys import ROLE_PERMISSIONS, Role
from hookline.errors import ERROR_CODES
from hookline.ui import routes as ui_routes


def create_app(settings: Settings, run_worker: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running(settings, run_worker) as services:
            app.state.services = services
            yield

    app = FastAPI(
        title="Hookline",
        version=__version__,
        description="Webhooks for interview lifecycle events: register endpoints per job "
        "posting, publish events, and get every one delivered, signed, retried and logged."
        '\n\nEvery error answer is `{"code", "detail", "errors"?}`; the codes:\n\n'
        + "\n".join(f"- `{code}`: {meaning}" for code, meaning in ERROR_CODES.items()),
        lifespan=lifespan,
        docs_url=None,  # served by hookline.api.docs, without a CDN
        redoc_url=None,
        # Hookline's metrics are Prometheus's, at /metrics; FastAPI's OpenTelemetry
        # hooks would only look for a provider on every request (3 % of a publish).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_error_handlers(app, dashboard=(ui_routes.PREFIX, ui_routes.render_error))
    app.add_middleware(BodySizeLimit)
    routers = (
        webhooks.router, events.router, event_types.router, admin.router, health.router,
        metrics.router,
    )  # fmt: skip
    for router in routers:
        app.include_router(router)
    docs.install(app)
    ui_routes.install(app)
    models = (webhooks.WebhookCreate, webhooks.WebhookOut, events.PublishRequest)
    _document_openapi(app, routers, models)
    return app


def _calls(dependant: Dependant) -> Iterator[object]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def _roles(route: APIRoute) -> list[str] | None:
    """The roles that may call a route, from its dependencies; None for a public one."""
    calls = list(_calls(route.dependant))
    needed = {getattr(call, "permission", None) for call in calls} - {None}
    if not needed and current_principal not in calls:
        return None
    return [role.value for role in Role if needed <= ROLE_PERMISSIONS[role]]


def _document_openapi(
    app: FastAPI, routers: tuple[APIRouter, ...], models: tuple[type[BaseModel], ...]
) -> None:
    """Two additions to FastAPI's document. Each operation's ``x-hookline-roles``: the
    roles its dependencies allow, read from them, so the document cannot drift from the
    code. And the seed's examples as written: FastAPI drops every null, examples
    included, and the seed's examples have meaningful nulls."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            for model in models:
                extra = model.model_config.get("json_schema_extra")
                if isinstance(extra, dict) and "examples" in extra:
                    schema["components"]["schemas"][model.__name__]["examples"] = extra["examples"]
            for route in (route for router in routers for route in router.routes):
                roles = _roles(route) if isinstance(route, APIRoute) else None
                if roles is not None and route.include_in_schema:
                    for method in route.methods:
                        operation = schema["paths"][route.path_format][method.lower()]
                        operation["x-hookline-roles"] = roles
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]
