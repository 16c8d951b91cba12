"""Everything one process needs to deliver, started and stopped together: on SQLite the
single-worker lock and the release of a dead run's claims, on PostgreSQL the LISTEN
connection and the planner statistics, the worker itself and the retention purge."""

from __future__ import annotations

import logging

from hookline.config import Settings
from hookline.delivery.retention import RetentionPurger
from hookline.delivery.statistics import StatisticsKeeper
from hookline.delivery.worker import DeliveryWorker
from hookline.store.database import Database, async_url, is_sqlite
from hookline.store.notify import Listener
from hookline.store.queue import release_claims
from hookline.store.sqlite_lock import SingleWorkerLock

log = logging.getLogger("hookline")


class DeliveryRuntime:
    def __init__(self, database: Database, settings: Settings) -> None:
        engine = database.engine
        self._engine = engine
        self._settings = settings
        self._worker = DeliveryWorker(engine, settings)
        url = async_url(settings.database_url)
        self._lock = SingleWorkerLock(url.database or "") if is_sqlite(url) else None
        self._listener = None
        if database.listen_url is not None:
            self._listener = Listener(database.listen_url, self.wake, settings.database_timeout)
        elif not is_sqlite(url):
            log.info(
                "no LISTEN behind a pooler without HOOKLINE_DIRECT_DATABASE_URL: the worker "
                "polls every %g s",
                settings.poll_interval,
            )
        self._purger = RetentionPurger(engine, settings.retention_days, settings.purge_interval)
        self._statistics = None if is_sqlite(url) else StatisticsKeeper(engine)

    def wake(self) -> None:
        self._worker.wake()

    async def start(self) -> None:
        if self._lock is not None:
            self._lock.acquire()
            # This process is now the database's only worker: any lease left behind
            # belongs to an earlier run that died mid-send.
            released = await release_claims(self._engine)
            if released:
                log.info("released %d deliveries claimed by a previous run", released)
        await self._worker.start()
        if self._listener is not None:
            self._listener.start()
        if self._statistics is not None:
            self._statistics.start()
        self._purger.start()

    async def stop(self) -> None:
        await self._purger.stop()
        if self._statistics is not None:
            await self._statistics.stop()
        if self._listener is not None:
            await self._listener.stop()
        await self._worker.stop()
        if self._lock is not None:
            self._lock.release()
