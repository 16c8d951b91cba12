"""The FastAPI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from hookline import __version__
from hookline.api import events, health, webhooks
from hookline.api.errors import install_error_handlers
from hookline.api.limits import BodySizeLimit
from hookline.config import Settings
from hookline.delivery.worker import DeliveryWorker
from hookline.store.database import async_url, create_engine, is_sqlite
from hookline.store.deliveries import release_claims

log = logging.getLogger("hookline")


def create_app(settings: Settings, run_worker: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url)
        app.state.engine = engine
        worker: DeliveryWorker | None = None
        if run_worker:
            if is_sqlite(async_url(settings.database_url)):
                # On SQLite this process is the only worker: any lease left in the
                # database belongs to an earlier run of it that died mid-send.
                released = await release_claims(engine)
                if released:
                    log.info("released %d deliveries claimed by a previous run", released)
            worker = DeliveryWorker(engine, settings)
            await worker.start()
            app.state.wake_worker = worker.wake
        try:
            yield
        finally:
            if worker is not None:
                await worker.stop()
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
    return app
