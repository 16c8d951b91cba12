"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from hookline import __version__
from hookline.api import docs, event_types, events, health, metrics, webhooks
from hookline.api.errors import install_error_handlers
from hookline.api.limits import BodySizeLimit
from hookline.config import Settings
from hookline.delivery.service import DeliveryService
from hookline.store.database import create_engine
from hookline.store.group_commit import PublishBatcher
from hookline.ui import routes as ui_routes


def create_app(settings: Settings, run_worker: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url)
        app.state.engine = engine
        app.state.publisher = PublishBatcher(engine)
        app.state.publisher.start()
        delivery: DeliveryService | None = None
        try:
            if run_worker:
                delivery = DeliveryService(engine, settings)
                await delivery.start()
                app.state.wake_worker = delivery.wake
            yield
        finally:
            await app.state.publisher.stop()
            if delivery is not None:
                await delivery.stop()
            await engine.dispose()

    app = FastAPI(
        title="Hookline",
        version=__version__,
        description="Webhooks for interview lifecycle events: register endpoints per job "
        "posting, publish events, and get every one delivered, signed, retried and logged.",
        lifespan=lifespan,
        docs_url=None,  # served by hookline.api.docs, without a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.wake_worker = lambda: None
    _keep_examples_exact(app, (webhooks.WebhookCreate, webhooks.WebhookOut, events.PublishRequest))
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit)
    app.include_router(webhooks.router)
    app.include_router(events.router)
    app.include_router(event_types.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    docs.install(app)
    ui_routes.install(app)
    return app


def _keep_examples_exact(app: FastAPI, models: tuple[type[BaseModel], ...]) -> None:
    """FastAPI drops every null from the OpenAPI document, examples included; the seed's
    examples have meaningful nulls, so put them back as written."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            for model in models:
                extra = model.model_config.get("json_schema_extra")
                if isinstance(extra, dict) and "examples" in extra:
                    schema["components"]["schemas"][model.__name__]["examples"] = extra["examples"]
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]
