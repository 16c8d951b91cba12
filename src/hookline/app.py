"""The composition root: the one place that builds the engine, the services and the
delivery worker, for ``serve``, ``worker`` and the CLI's commands alike."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from hookline.config import Settings
from hookline.delivery.runtime import DeliveryRuntime
from hookline.service.deliveries import DeliveryLogService
from hookline.service.events import EventService
from hookline.service.keys import KeyService
from hookline.service.operations import OperationsService
from hookline.service.sessions import SessionService
from hookline.service.wakeup import Wakeup
from hookline.service.webhooks import WebhookService
from hookline.store.database import async_url, create_engine, is_sqlite
from hookline.store.migrate import upgrade_to_head
from hookline.store.sqlite_lock import SingleWorkerLock

log = logging.getLogger("hookline")


@dataclass(frozen=True)
class Services:
    settings: Settings
    keys: KeyService
    webhooks: WebhookService
    events: EventService
    deliveries: DeliveryLogService
    sessions: SessionService
    operations: OperationsService
    wake: Wakeup

    @classmethod
    def build(cls, engine: AsyncEngine, settings: Settings) -> Services:
        wake = Wakeup()
        keys = KeyService(engine, settings.database_url)
        webhooks = WebhookService(engine, settings, wake)
        return cls(
            settings=settings,
            keys=keys,
            webhooks=webhooks,
            events=EventService(engine, wake),
            deliveries=DeliveryLogService(engine, webhooks, wake),
            sessions=SessionService(engine, keys),
            operations=OperationsService(engine),
            wake=wake,
        )


@asynccontextmanager
async def running(settings: Settings, run_worker: bool = False) -> AsyncIterator[Services]:
    """The services on a fresh engine, with the publish batcher and, if asked, this
    process's delivery worker running; all stopped and disposed of on exit."""
    engine = create_engine(settings.database_url)
    services = Services.build(engine, settings)
    services.events.start()
    services.keys.start()
    delivery: DeliveryRuntime | None = None
    try:
        if run_worker:
            delivery = DeliveryRuntime(engine, settings)
            await delivery.start()
            services.wake.attach(delivery.wake)
        yield services
    finally:
        await services.events.stop()
        await services.keys.stop()
        if delivery is not None:
            await delivery.stop()
        await engine.dispose()


def migrate(settings: Settings) -> None:
    upgrade_to_head(settings.database_url)


def refuse_second_sqlite_worker(settings: Settings) -> None:
    """Say before serving, not after, that SQLite's one worker already runs elsewhere
    (a Conflict, code ``second_worker``)."""
    url = async_url(settings.database_url)
    if is_sqlite(url):
        probe = SingleWorkerLock(url.database or "")
        probe.acquire()
        probe.release()


async def run_worker_process(settings: Settings) -> None:
    """``hookline worker``: deliver until SIGTERM or SIGINT, then stop gracefully."""
    engine = create_engine(settings.database_url)
    delivery = DeliveryRuntime(engine, settings)
    try:
        await delivery.start()
        log.info(
            "delivery worker started (concurrency %d, per webhook %d)",
            settings.worker_concurrency,
            settings.endpoint_concurrency,
        )
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        await stopping.wait()
        log.info("stopping: finishing the attempts in flight")
        await delivery.stop()
    finally:
        await engine.dispose()
