"""The worker's side of keeping PostgreSQL's planner statistics fresh (store.statistics
says why): a look every few seconds, an ANALYZE of each table that changed enough."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from hookline import outage
from hookline.background import BackgroundTask
from hookline.store.faults import note_failure
from hookline.store.statistics import analyze, stale_tables

log = logging.getLogger("hookline.database")
CHECK_INTERVAL_SECONDS = 2.0
# After a failure: autovacuum still runs meanwhile, and a fault that is not an outage
# (a statement_timeout cutting ANALYZE short) is logged once a minute, not every check.
AFTER_FAILURE_SECONDS = 60.0
WHAT = "refreshing planner statistics"


class StatisticsKeeper:
    def __init__(self, engine: AsyncEngine, interval: float = CHECK_INTERVAL_SECONDS) -> None:
        self._engine = engine
        self._interval = interval
        self._background = BackgroundTask("hookline-statistics", self._run)

    def start(self) -> None:
        self._background.start()

    async def stop(self) -> None:
        await self._background.stop()

    async def refresh_once(self) -> list[str]:
        """Analyse each table that changed enough; those analysed."""
        return [
            table
            for table in await stale_tables(self._engine)
            if await analyze(self._engine, table)
        ]

    async def _run(self) -> None:
        while True:
            try:
                tables = await self.refresh_once()
            except Exception as exc:
                note_failure(WHAT, exc, log)
                await asyncio.sleep(AFTER_FAILURE_SECONDS)
                continue
            outage.database.succeeded(WHAT)
            if tables:
                log.debug("planner statistics refreshed: %s", ", ".join(tables))
            await asyncio.sleep(self._interval)
