"""Cross-process signals on PostgreSQL: NOTIFY when deliveries become due (LISTEN in
workers) and when an API key is revoked (LISTEN in API processes, which cache keys).

SQLite runs a single process, which signals in memory; there NOTIFY is a no-op. LISTEN
needs a session of its own, which a pooler in transaction mode does not give: behind one
it goes to HOOKLINE_DIRECT_DATABASE_URL, or nothing listens (workers poll, keys are not
cached).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg
from sqlalchemy import func, text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ColumnElement

from hookline import outage
from hookline.background import BackgroundTask
from hookline.store.database import asyncpg_dsn
from hookline.store.faults import note_failure

CHANNEL = "hookline_deliveries"
KEYS_CHANNEL = "hookline_keys"
RECONNECT_SECONDS = 1.0
# How often a LISTEN connection makes sure its server is still there and writable: after
# a failover NOTIFY comes from the new primary, and a LISTEN on the old one hears nothing.
CHECK_SECONDS = 5.0
# How operators find a LISTEN connection in pg_stat_activity: "hookline-listen <channel>".
LISTEN_APPLICATION_NAME = "hookline-listen"
log = logging.getLogger("hookline.notify")


async def notify_new_work(conn: AsyncConnection) -> None:
    """Within a transaction: workers are told when it commits (repeats are collapsed)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text(f"NOTIFY {CHANNEL}"))


def new_work_signal() -> ColumnElement[Any]:
    """PostgreSQL: ``notify_new_work`` as an expression, for a statement that tells the
    workers itself when it commits (``pg_notify``, the function form of NOTIFY)."""
    return func.pg_notify(CHANNEL, "")


async def notify_keys_changed(conn: AsyncConnection) -> None:
    """Within a transaction: API processes drop their cached keys when it commits."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text(f"NOTIFY {KEYS_CHANNEL}"))


def _nothing() -> None:
    return None


class Listener:
    """Keeps a LISTEN connection on ``channel`` open and calls ``on_notify`` for each
    notification and once on every (re)connection, to catch up on what was missed;
    ``on_lost`` when the connection is lost or cannot be made. Reconnects after a loss or
    a failover."""

    def __init__(
        self,
        listen_url: str,
        on_notify: Callable[[], None],
        connect_timeout: float,
        channel: str = CHANNEL,
        on_lost: Callable[[], None] = _nothing,
    ) -> None:
        self._dsn = asyncpg_dsn(listen_url)
        self._on_notify = on_notify
        self._on_lost = on_lost
        self._connect_timeout = connect_timeout
        self._channel = channel
        self._what = f"listening on {channel}"
        self._background = BackgroundTask(f"hookline-listen-{channel}", self._run)

    def start(self) -> None:
        self._background.start()

    async def stop(self) -> None:
        await self._background.stop()

    async def _run(self) -> None:
        while True:
            connection = None
            try:
                connection = await asyncpg.connect(
                    self._dsn,
                    timeout=self._connect_timeout,
                    server_settings={
                        "application_name": f"{LISTEN_APPLICATION_NAME} {self._channel}"
                    },
                )
                lost = asyncio.Event()
                connection.add_termination_listener(lambda _conn, lost=lost: lost.set())
                await connection.add_listener(self._channel, lambda *_args: self._on_notify())
                log.info("LISTEN %s connected", self._channel)
                outage.database.succeeded(self._what)
                self._on_notify()  # catch up on anything that happened while deaf
                await self._watch(connection, lost)
            except Exception as exc:
                note_failure(self._what, exc, log)
            finally:
                self._on_lost()
                if connection is not None and not connection.is_closed():
                    connection.terminate()
            await asyncio.sleep(RECONNECT_SECONDS)

    async def _watch(self, connection: asyncpg.Connection, lost: asyncio.Event) -> None:
        """Return when the connection is lost or its server is no longer writable (the
        reconnection says why, if the database is down); raise if it does not answer."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), CHECK_SECONDS)
            if lost.is_set():
                log.debug("the LISTEN connection was closed; reconnecting")
                return
            read_only = await connection.fetchval(
                "SELECT current_setting('transaction_read_only')", timeout=CHECK_SECONDS
            )
            if read_only != "off":
                log.debug("the LISTEN connection's server is read-only; reconnecting")
                return
            outage.database.succeeded(self._what)
