"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from hookline import __version__
from hookline.api import events, health, metrics, webhooks
from hookline.api.errors import install_error_handlers
from hookline.api.limits import BodySizeLimit
from hookline.config import Settings
from hookline.delivery.service import DeliveryService
from hookline.store.database import create_engine
from hookline.store.group_commit import PublishBatcher


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
    )
    app.state.settings = settings
    app.state.wake_worker = lambda: None
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit)
    app.include_router(webhooks.router)
    app.include_router(events.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    return app
