"""The background purge: events and attempts older than HOOKLINE_RETENTION_DAYS go, in
bounded batches with pauses between them, so delivery is never blocked for long."""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy.ext.asyncio import AsyncEngine

from hookline import outage
from hookline.background import BackgroundTask
from hookline.store.faults import note_failure
from hookline.store.retention import purge_batch

log = logging.getLogger("hookline.retention")
BATCH_SIZE = 500
PAUSE_BETWEEN_BATCHES = 0.05
WHAT = "purging past retention (tried again later)"


class RetentionPurger:
    def __init__(self, engine: AsyncEngine, retention_days: float, interval: float) -> None:
        self._engine = engine
        self._retention_seconds = retention_days * 86400
        self._interval = interval
        self._background = BackgroundTask("hookline-retention", self._run)

    def start(self) -> None:
        self._background.start()

    async def stop(self) -> None:
        await self._background.stop()

    async def purge_once(self) -> tuple[int, int]:
        """Purge everything that is due now; (events, attempts) deleted."""
        cutoff = time.time() - self._retention_seconds
        events = attempts = 0
        while True:
            purged = await purge_batch(self._engine, cutoff, BATCH_SIZE)
            events += purged.events
            attempts += purged.attempts
            if purged.events < BATCH_SIZE and purged.attempts < BATCH_SIZE:
                return events, attempts
            await asyncio.sleep(PAUSE_BETWEEN_BATCHES)

    async def _run(self) -> None:
        while True:
            try:
                events, attempts = await self.purge_once()
            except Exception as exc:
                note_failure(WHAT, exc, log)
            else:
                outage.database.succeeded(WHAT)
                if events or attempts:
                    log.info("purged %d events and %d attempts past retention", events, attempts)
            await asyncio.sleep(self._interval)
