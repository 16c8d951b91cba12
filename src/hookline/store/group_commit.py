"""Group commit for publishing: concurrent publishes share one transaction.

A transaction costs a few round trips however many events it holds, so under load the
events that arrive while one batch is being written go together in the next.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from hookline.background import BackgroundTask
from hookline.store.events import NewEvent, Published, publish, publish_batch
from hookline.store.faults import database_fault

log = logging.getLogger("hookline.store")
MAX_BATCH = 256


class PublishBatcher:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._queue: asyncio.Queue[tuple[NewEvent, asyncio.Future[Published]]] = asyncio.Queue()
        self._background = BackgroundTask("hookline-publish", self._run)

    def start(self) -> None:
        self._background.start()

    async def stop(self) -> None:
        await self._background.stop()

    async def publish(self, event: NewEvent) -> Published:
        """Store the event and its deliveries; returns once they are committed."""
        if event.idempotency_key is not None or not self._background.running:
            return await publish(self._engine, event)
        future: asyncio.Future[Published] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((event, future))
        return await future

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                results = await publish_batch(self._engine, [event for event, _ in batch])
            except Exception as exc:
                if database_fault(exc) is not None:
                    # The database, not an event: one by one would fail the same way. Each
                    # caller gets the fault, and the service layer says it once.
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                log.exception("a batch of %d publishes failed; writing them one by one", len(batch))
                await self._one_by_one(batch)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)

    async def _one_by_one(self, batch: list[tuple[NewEvent, asyncio.Future[Published]]]) -> None:
        """So that one bad event fails alone."""
        for event, future in batch:
            try:
                result = await publish(self._engine, event)
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)
            else:
                if not future.done():
                    future.set_result(result)
