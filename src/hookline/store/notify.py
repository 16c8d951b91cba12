"""Cross-process wake-ups on PostgreSQL: NOTIFY when deliveries become due, LISTEN in workers.

SQLite runs a single process, which wakes its worker in memory; there this is a no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

CHANNEL = "hookline_deliveries"
RECONNECT_SECONDS = 1.0
log = logging.getLogger("hookline.notify")


async def notify_new_work(conn: AsyncConnection) -> None:
    """Within a transaction: workers are told when it commits (repeats are collapsed)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text(f"NOTIFY {CHANNEL}"))


class WorkListener:
    """Keeps a LISTEN connection open and calls ``on_notify`` for each notification,
    reconnecting after a loss; the worker's polling covers the gaps."""

    def __init__(self, database_url: str, on_notify: Callable[[], None]) -> None:
        url = make_url(database_url).set(drivername="postgresql")
        self._dsn = url.render_as_string(hide_password=False)
        self._on_notify = on_notify
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="hookline-listen")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            connection = None
            try:
                connection = await asyncpg.connect(self._dsn)
                lost = asyncio.Event()
                connection.add_termination_listener(lambda _conn, lost=lost: lost.set())
                await connection.add_listener(CHANNEL, lambda *_args: self._on_notify())
                log.info("LISTEN %s: woken as deliveries become due", CHANNEL)
                self._on_notify()  # catch up on anything that became due while deaf
                await lost.wait()
                log.warning("LISTEN connection lost; reconnecting")
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("LISTEN connection failed (%s); polling meanwhile", exc)
            finally:
                if connection is not None and not connection.is_closed():
                    await connection.close()
            await asyncio.sleep(RECONNECT_SECONDS)
