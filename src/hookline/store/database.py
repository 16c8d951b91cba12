"""Engine creation for the two backends: embedded SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
import types
from functools import cache, partial
from pathlib import Path
from typing import Any

import aiosqlite
from sqlalchemy import event, text
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_dbapi
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DataError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from hookline.config import SettingsError

ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


def async_url(database_url: str) -> URL:
    """Map ``sqlite:///…`` and ``postgresql://…`` onto their async drivers."""
    try:
        url = make_url(database_url)
    except ArgumentError:
        raise SettingsError(
            "HOOKLINE_DATABASE_URL must look like sqlite:///PATH or "
            "postgresql://user:password@host:port/database"
        ) from None
    backend = url.get_backend_name()
    if backend not in ASYNC_DRIVERS:
        raise SettingsError(
            f"HOOKLINE_DATABASE_URL must start with sqlite:/// or postgresql://, not {backend}://"
        )
    return url.set(drivername=ASYNC_DRIVERS[backend])


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def _configure_sqlite(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the writer; synchronous=NORMAL is durable across a
    # process crash (kill -9), which is what a single Hookline process must survive.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class InlineSqliteConnection(aiosqlite.Connection):
    """aiosqlite, but each call runs on the event loop's own thread.

    aiosqlite hands every call to a thread and back: measured here, about 380 µs for a
    trivial statement through SQLAlchemy, where SQLite itself needs a few µs. Hookline on
    SQLite is a single process whose statements are short (WAL, no fsync per commit), so
    running them inline is far cheaper than the hand-offs. Opening and closing still go
    through aiosqlite's thread.
    """

    async def _execute(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)


def _inline_connect(database: str, **kwargs: Any) -> aiosqlite.Connection:
    # The sqlite3 connection is made on aiosqlite's thread and then used on the loop's.
    kwargs["check_same_thread"] = False
    return InlineSqliteConnection(partial(sqlite3.connect, database, **kwargs), 64)


@cache
def _inline_sqlite_dbapi() -> AsyncAdapt_aiosqlite_dbapi:
    module = types.ModuleType("hookline_inline_aiosqlite")
    module.__dict__.update(aiosqlite.__dict__)
    module.connect = _inline_connect  # type: ignore[attr-defined]
    module.Connection = InlineSqliteConnection  # type: ignore[attr-defined]
    return AsyncAdapt_aiosqlite_dbapi(module, sqlite3)


def create_engine(database_url: str) -> AsyncEngine:
    url = async_url(database_url)
    if is_sqlite(url):
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        # One connection: in one process, SQLite serialises writes anyway, and a second
        # connection would only meet the first's lock and back off.
        engine = create_async_engine(
            url, pool_size=1, max_overflow=0, module=_inline_sqlite_dbapi()
        )
        event.listen(engine.sync_engine, "connect", _configure_sqlite)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


async def ping(engine: AsyncEngine) -> None:
    """A trivial query; raises when the database does not answer."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


# SQLSTATE classes of a statement refused for what it holds: 22 data exception (NUL in
# text, a value out of range), 23 integrity constraint. Retrying such a statement fails
# the same way; anything else (a lost connection, a read-only server) may pass later.
DATA_SQLSTATE_CLASSES = ("22", "23")


def is_data_problem(exc: BaseException) -> bool:
    """Whether the database refused a statement for its data rather than being unable
    to run it now. asyncpg's errors reach SQLAlchemy as generic DBAPIErrors, so the
    SQLSTATE decides, wherever in the chain it is."""
    if isinstance(exc, UnicodeError | DataError | IntegrityError):
        return True
    cause: BaseException | None = exc
    while cause is not None:
        sqlstate = getattr(cause, "sqlstate", None)
        if isinstance(sqlstate, str):
            return sqlstate[:2] in DATA_SQLSTATE_CLASSES
        cause = getattr(cause, "orig", None) or cause.__cause__
    return False
