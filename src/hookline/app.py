"""The composition root: the one place that builds the engine, the services and the
delivery worker, for ``serve``, ``worker`` and the CLI's commands alike."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from hookline import outage
from hookline.config import Settings
from hookline.delivery.runtime import DeliveryRuntime
from hookline.delivery.status import run_with_status_endpoint
from hookline.service.deliveries import DeliveryLogService
from hookline.service.events import EventService
from hookline.service.keys import KeyService
from hookline.service.operations import OperationsService
from hookline.service.sessions import SessionService
from hookline.service.wakeup import Wakeup
from hookline.service.webhooks import WebhookService
from hookline.service.workspaces import WorkspaceService
from hookline.store.database import Database, async_url, is_sqlite, open_database
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
    workspaces: WorkspaceService
    wake: Wakeup

    @classmethod
    def build(cls, database: Database, settings: Settings) -> Services:
        engine, wake = database.engine, Wakeup()
        keys = KeyService(engine, database.listen_url, settings.database_timeout)
        webhooks = WebhookService(engine, settings, wake)
        return cls(
            settings=settings,
            keys=keys,
            webhooks=webhooks,
            events=EventService(engine, wake),
            deliveries=DeliveryLogService(engine, webhooks, wake),
            sessions=SessionService(engine, keys),
            operations=OperationsService(engine, settings.readiness_timeout),
            workspaces=WorkspaceService(engine, keys),
            wake=wake,
        )


@asynccontextmanager
async def running(settings: Settings, run_worker: bool = False) -> AsyncIterator[Services]:
    """The services on a fresh engine, with the publish batcher and, if asked, this
    process's delivery worker running; all stopped and disposed of on exit."""
    outage.database.reminder_seconds = settings.outage_log_interval
    database = await open_database(settings, checkpoints=True)
    services = Services.build(database, settings)
    services.events.start()
    services.keys.start()
    delivery: DeliveryRuntime | None = None
    try:
        if run_worker:
            delivery = DeliveryRuntime(database, settings)
            await delivery.start()
            services.wake.attach(delivery.wake)
        settle_heap()
        yield services
    finally:
        await services.events.stop()
        await services.keys.stop()
        if delivery is not None:
            await delivery.stop()
        await database.close()


def settle_heap() -> None:
    """What start-up built (modules, the app, its services) lives as long as the process:
    move it out of the cyclic collector's reach. Its full collections walked all of it and
    paused the event loop for 50 to 75 ms at a time, the p99 of publishing and delivery."""
    gc.collect()
    gc.freeze()


def migrate(settings: Settings) -> None:
    """Migrations take a session of their own: on HOOKLINE_DIRECT_DATABASE_URL when there
    is one (behind a pooler), else on HOOKLINE_DATABASE_URL."""
    if settings.direct_database_url:
        upgrade_to_head(settings.direct_database_url, "none", settings.database_timeout)
    else:
        upgrade_to_head(settings.database_url, settings.database_pooler, settings.database_timeout)


def refuse_second_sqlite_worker(settings: Settings) -> None:
    """Say before serving, not after, that SQLite's one worker already runs elsewhere
    (a Conflict, code ``second_worker``)."""
    url = async_url(settings.database_url)
    if is_sqlite(url):
        probe = SingleWorkerLock(url.database or "")
        probe.acquire()
        probe.release()


async def run_worker_process(settings: Settings, status_port: int | None = None) -> None:
    """``hookline worker``: deliver until SIGTERM or SIGINT, then stop gracefully; with
    ``status_port``, serve /healthz, /readyz and /metrics on 127.0.0.1 meanwhile."""
    if status_port is not None:
        work = run_worker_process(settings)
        await run_with_status_endpoint(work, settings, "127.0.0.1", status_port)
        return
    outage.database.reminder_seconds = settings.outage_log_interval
    database = await open_database(settings, checkpoints=True)
    delivery = DeliveryRuntime(database, settings)
    try:
        await delivery.start()
        settle_heap()
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
        await database.close()
