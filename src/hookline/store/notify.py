"""Cross-process signals on PostgreSQL: NOTIFY when deliveries become due (LISTEN in
workers) and when an API key is revoked (LISTEN in API processes, which cache keys).

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
KEYS_CHANNEL = "hookline_keys"
RECONNECT_SECONDS = 1.0
log = logging.getLogger("hookline.notify")


async def notify_new_work(conn: AsyncConnection) -> None:
    """Within a transaction: workers are told when it commits (repeats are collapsed)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text(f"NOTIFY {CHANNEL}"))


async def notify_keys_changed(conn: AsyncConnection) -> None:
    """Within a transaction: API processes drop their cached keys when it commits."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text(f"NOTIFY {KEYS_CHANNEL}"))


class Listener:
    """Keeps a LISTEN connection on ``channel`` open and calls ``on_notify`` for each
    notification and once on every (re)connection, to catch up on what was missed;
    ``on_lost`` when the connection is lost or cannot be made. Reconnects after a loss."""

    def __init__(
        self,
        database_url: str,
        on_notify: Callable[[], None],
        channel: str = CHANNEL,
        on_lost: Callable[[], None] = lambda: None,
    ) -> None:
        url = make_url(database_url).set(drivername="postgresql")
        self._dsn = url.render_as_string(hide_password=False)
        self._on_notify = on_notify
        self._on_lost = on_lost
        self._channel = channel
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
                await connection.add_listener(self._channel, lambda *_args: self._on_notify())
                self._on_notify()  # catch up on anything that happened while deaf
                await lost.wait()
                self._on_lost()
                log.warning("LISTEN connection lost; reconnecting")
            except (OSError, asyncpg.PostgresError) as exc:
                self._on_lost()
                log.warning("LISTEN connection failed (%s); polling meanwhile", exc)
            finally:
                if connection is not None and not connection.is_closed():
                    await connection.close()
            await asyncio.sleep(RECONNECT_SECONDS)
