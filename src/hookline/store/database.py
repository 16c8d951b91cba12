"""Engine creation for the two backends: embedded SQLite and PostgreSQL, the latter
directly or behind a connection pooler (PgBouncer in transaction mode), on one host or
several (failover)."""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
import time
import types
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import Any

import aiosqlite
import asyncpg
from sqlalchemy import event, text
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_dbapi
from sqlalchemy.engine import URL, Dialect, Engine, ExceptionContext, make_url
from sqlalchemy.exc import ArgumentError, InvalidatePoolError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from hookline.config import Settings, SettingsError
from hookline.store.faults import database_fault
from hookline.store.wal_checkpoints import WalCheckpointer

ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
DEFAULT_TIMEOUT = 5.0
DEFAULT_PORT = 5432
# postgresql://user:password@host1:port1,host2:port2/database?… (libpq's multi-host form)
MULTI_HOST = re.compile(
    r"^(?P<scheme>[^:/]+)://(?:(?P<userinfo>[^@/]*)@)?(?P<hosts>[^/?]*,[^/?]*)(?P<rest>[/?].*)?$"
)
log = logging.getLogger("hookline.database")


def async_url(database_url: str) -> URL:
    """Map ``sqlite:///…`` and ``postgresql://…`` onto their async drivers; libpq's
    multi-host form (``postgresql://h1:5432,h2:5432/db?target_session_attrs=read-write``)
    onto SQLAlchemy's (``?host=h1:5432&host=h2:5432``)."""
    try:
        url = make_url(_hosts_as_query(database_url))
    except (ArgumentError, ValueError):
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


def _hosts_as_query(database_url: str) -> str:
    match = MULTI_HOST.match(database_url)
    if match is None:
        return database_url
    hosts = []
    for host in match["hosts"].split(","):
        if not host:
            raise SettingsError("HOOKLINE_DATABASE_URL lists an empty host")
        has_port = host.rsplit("]", 1)[-1].count(":") == 1
        hosts.append(host if has_port else f"{host}:{DEFAULT_PORT}")
    path, _, query = (match["rest"] or "/").partition("?")
    userinfo = f"{match['userinfo']}@" if match["userinfo"] is not None else ""
    params = "&".join([*(f"host={host}" for host in hosts), *([query] if query else [])])
    return f"{match['scheme']}://{userinfo}{path}?{params}"


def asyncpg_dsn(database_url: str) -> str:
    """The URL as asyncpg's own connect() takes it (it reads libpq's multi-host form and
    ``target_session_attrs`` itself): without SQLAlchemy's ``+driver``."""
    return re.sub(r"^postgresql\+\w+://", "postgresql://", database_url)


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
    # Checkpoints run on a thread of their own (store.wal_checkpoints), never inside a
    # commit on the event loop.
    cursor.execute("PRAGMA wal_autocheckpoint=0")
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

    def sqlite3_connection(self) -> sqlite3.Connection:
        """The sqlite3 connection itself, for statements run without SQLAlchemy."""
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return self._connection

    def data_version(self) -> int | None:
        """``PRAGMA data_version``, read at once on this connection; None once closed."""
        if not self._running or not self._connection:
            return None
        return self._connection.execute("PRAGMA data_version").fetchone()[0]  # type: ignore[no-any-return]


class NewestSqliteConnection:
    """An engine's newest SQLite connection (it has one: pool_size=1), for a read that
    must be made on that very connection and is too small to be worth a checkout; and how
    many the engine has opened."""

    def __init__(self) -> None:
        self.connection: InlineSqliteConnection | None = None
        self.opened = 0

    def remember(self, dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        self.connection = dbapi_connection.driver_connection
        self.opened += 1


_NEWEST: weakref.WeakKeyDictionary[Engine, NewestSqliteConnection] = weakref.WeakKeyDictionary()


def sqlite_data_version(engine: AsyncEngine) -> tuple[int, int] | None:
    """Whether another connection (another process) may have committed: ``PRAGMA
    data_version`` of the engine's own connection, which moves for other connections'
    commits and not for its own, with the count of connections the engine has opened (a
    new connection's version starts afresh, so a commit made while the old one was being
    replaced would go unseen). None while no connection is open. Read inline, without
    SQLAlchemy: the key lookup asks on every request."""
    newest = _NEWEST.get(engine.sync_engine)
    if newest is None or newest.connection is None:
        return None
    version = newest.connection.data_version()
    return None if version is None else (newest.opened, version)


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


def create_engine(
    database_url: str, *, behind_pooler: bool = False, timeout: float = DEFAULT_TIMEOUT
) -> AsyncEngine:
    """An engine whose waits for a connection (connecting, or a free one in the pool) end
    after ``timeout`` seconds. ``behind_pooler``: PgBouncer in transaction mode hands each
    transaction to any server connection, so no prepared statement may outlive one."""
    url = async_url(database_url)
    if is_sqlite(url):
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        # One connection: in one process, SQLite serialises writes anyway, and a second
        # connection would only meet the first's lock and back off.
        engine = create_async_engine(
            url,
            pool_size=1,
            max_overflow=0,
            pool_timeout=timeout,
            module=_inline_sqlite_dbapi(),
        )
        event.listen(engine.sync_engine, "connect", _configure_sqlite)
        newest = _NEWEST[engine.sync_engine] = NewestSqliteConnection()
        event.listen(engine.sync_engine, "connect", newest.remember)
        return engine
    connect_args: dict[str, Any] = {"timeout": timeout}
    if behind_pooler:
        # Neither asyncpg's statement cache nor SQLAlchemy's, and every statement the
        # unnamed one, which the next statement replaces: SQLAlchemy runs each inside a
        # transaction, which keeps it on one server connection from Parse to Execute.
        connect_args |= {
            "statement_cache_size": 0,
            "prepared_statement_cache_size": 0,
            "prepared_statement_name_func": _unnamed_statement,
        }
    engine = create_async_engine(
        url,
        pool_size=10,
        max_overflow=10,
        pool_timeout=timeout,
        connect_args=connect_args,
    )
    event.listen(engine.sync_engine, "handle_error", _read_only_drops_the_pool)
    event.listen(engine.sync_engine, "checkin", _note_idle_since)
    event.listen(engine.sync_engine, "checkout", partial(_ping_when_idle, engine.dialect))
    if not behind_pooler:
        _MAY_AUTOCOMMIT.add(engine.sync_engine)
    return engine


@asynccontextmanager
async def sqlite3_checked_out(engine: AsyncEngine) -> AsyncIterator[sqlite3.Connection]:
    """The SQLite engine's sqlite3 connection, checked out of the pool (so no other
    transaction is open on it), for a hot path's statements run inline without
    SQLAlchemy: its per-statement work, through the async adapter's greenlets, cost
    several times SQLite's own (about 50 against 5 µs for a claim's read). What is begun
    on it is committed by the caller, or rolled back here."""
    async with engine.connect() as conn:
        connection = await sqlite3_of(conn)
        try:
            yield connection
        except BaseException:
            if connection.in_transaction:
                connection.rollback()
            raise


async def sqlite3_of(conn: AsyncConnection) -> sqlite3.Connection:
    """The sqlite3 connection under SQLAlchemy's: what runs on it joins the transaction
    open on it (the SQLite dialect's transactions are the driver's own)."""
    raw = await conn.get_raw_connection()
    return raw.driver_connection.sqlite3_connection()  # type: ignore[union-attr,no-any-return]


# PostgreSQL engines not behind a pooler; weakly, so that a disposed engine is collected.
_MAY_AUTOCOMMIT: weakref.WeakSet[Engine] = weakref.WeakSet()


@asynccontextmanager
async def single_statements(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection for statements that each stand alone (a read; a write that is one
    statement): in autocommit where it is safe, so each costs one round trip instead of
    three (BEGIN, the statement, COMMIT); elsewhere in a transaction. Not behind a pooler
    in transaction mode, which must hold one server connection from a statement's Parse
    to its Execute, nor on SQLite, where a transaction costs no round trip."""
    if engine.sync_engine in _MAY_AUTOCOMMIT:
        async with engine.connect() as conn:
            yield await conn.execution_options(isolation_level="AUTOCOMMIT")
    else:
        async with engine.begin() as conn:
            yield conn


@asynccontextmanager
async def asyncpg_checked_out(engine: AsyncEngine) -> AsyncIterator[asyncpg.Connection]:
    """The PostgreSQL engine's asyncpg connection, checked out of the pool, for a hot
    path's statements run without SQLAlchemy: its work per statement (its compiled cache,
    each parameter's processing, a row object per row, the pool's events) cost the worker
    more than asyncpg's own. Each statement commits by itself, as ``single_statements``
    has them, and behind a pooler all of them share one transaction, so one server
    connection holds them from Parse to Execute.

    What SQLAlchemy would do on a failure is done here: a connection that broke, or a
    statement cancelled midway, is not handed out again; one that shows the server gone
    or read-only (``_read_only_drops_the_pool``) replaces the whole pool, so new
    connections look for the writable host."""
    async with engine.connect() as conn:
        connection: asyncpg.Connection = (await conn.get_raw_connection()).driver_connection
        try:
            if engine.sync_engine in _MAY_AUTOCOMMIT:
                yield connection
            else:
                async with connection.transaction():
                    yield connection
        except BaseException as exc:
            fault = database_fault(exc)
            lost = connection.is_closed() or (
                fault is not None and fault.kind in {"unreachable", "read_only"}
            )
            if lost or not isinstance(exc, asyncpg.PostgresError):
                await conn.invalidate()
            if lost:
                await engine.dispose(close=False)
            raise


# A connection back in use within this long is not pinged on checkout. asyncpg's ping is
# three round trips (BEGIN, ";", ROLLBACK, for PgBouncer): pinging every checkout, as
# ``pool_pre_ping`` does, doubled a busy worker's round trips. A connection lost within
# the second fails its statement instead (as does any other connection in use then);
# such a failure, when it shows the connection closed, replaces the whole pool.
PING_WHEN_IDLE_SECONDS = 1.0
_IDLE_SINCE = "hookline_idle_since"  # in a pooled connection's info


def _note_idle_since(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    record.info[_IDLE_SINCE] = time.monotonic()


def _ping_when_idle(
    dialect: Dialect, dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any
) -> None:
    idle_since = record.info.pop(_IDLE_SINCE, None)  # None: connected just now
    if idle_since is None or time.monotonic() - idle_since < PING_WHEN_IDLE_SECONDS:
        return
    try:
        dialect.do_ping(dbapi_connection)
    except Exception as exc:  # any failure: the whole pool is replaced, as after pre-ping's
        raise InvalidatePoolError(f"ping failed: {type(exc).__name__}") from exc


def _unnamed_statement() -> str:
    return ""


def _read_only_drops_the_pool(context: ExceptionContext) -> None:
    """A read-only answer from what was the primary (default_transaction_read_only, or a
    standby after a failover): treat it as a lost connection, so that the whole pool is
    replaced and new connections look for the writable host again
    (``target_session_attrs=read-write`` in a multi-host URL)."""
    fault = database_fault(context.original_exception)
    if fault is not None and fault.kind == "read_only":
        context.is_disconnect = True


async def pooler_in_front(database_url: str, connect_timeout: float = DEFAULT_TIMEOUT) -> bool:
    """Whether a pooler answers at ``database_url``: PgBouncer gives each client a backend
    key of its own making, so the process id it announces is not the server's."""
    connection = await asyncpg.connect(
        asyncpg_dsn(database_url), timeout=connect_timeout, statement_cache_size=0
    )
    try:
        async with connection.transaction():  # one server connection for both steps
            backend_pid = await connection.fetchval("SELECT pg_backend_pid()")
        return backend_pid != connection.get_server_pid()
    finally:
        await connection.close(timeout=connect_timeout)


async def resolve_pooler(
    database_url: str, pooler: str, connect_timeout: float, unreachable_is_fatal: bool = False
) -> bool:
    """Whether to treat ``database_url`` as behind a pooler: as configured
    (``pgbouncer``/``none``), or, for ``auto``, as found out now. A database that cannot
    be asked is taken as a direct connection, or, with ``unreachable_is_fatal`` (when the
    very next step needs it, as a migration does), is the caller's error to report."""
    if pooler != "auto" or is_sqlite(async_url(database_url)):
        return pooler == "pgbouncer"
    try:
        found = await pooler_in_front(database_url, connect_timeout)
    except Exception as exc:
        fault = database_fault(exc)
        if fault is None or unreachable_is_fatal:
            raise
        log.warning(
            "could not ask the database whether a pooler stands in front of it (%s); "
            "assuming a direct connection: set HOOKLINE_DATABASE_POOLER=pgbouncer if one does",
            fault.cause,
        )
        return False
    if found:
        log.info(
            "a connection pooler answers at HOOKLINE_DATABASE_URL: no prepared statement "
            "outlives a transaction (HOOKLINE_DATABASE_POOLER=pgbouncer, found out at start)"
        )
    return found


@dataclass(frozen=True)
class Database:
    engine: AsyncEngine
    # Where the worker LISTENs for wake-ups; None: it polls (SQLite wakes in memory).
    listen_url: str | None
    checkpointer: WalCheckpointer | None = None

    async def close(self) -> None:
        if self.checkpointer is not None:
            await asyncio.to_thread(self.checkpointer.stop)
        await self.engine.dispose()


async def open_database(settings: Settings, checkpoints: bool = False) -> Database:
    """The engine for ``settings``, and where LISTEN can go: never through a pooler in
    transaction mode (it would hold no session), so to HOOKLINE_DIRECT_DATABASE_URL. With
    ``checkpoints``, for a long-running process: SQLite's WAL checkpoints, on a thread."""
    url = async_url(settings.database_url)
    if is_sqlite(url):
        engine = create_engine(settings.database_url, timeout=settings.database_timeout)
        checkpointer = None
        if checkpoints and url.database and url.database != ":memory:":
            checkpointer = WalCheckpointer(url.database)
            checkpointer.start()
        return Database(engine, None, checkpointer)
    behind_pooler = await resolve_pooler(
        settings.database_url, settings.database_pooler, settings.database_timeout
    )
    engine = create_engine(
        settings.database_url, behind_pooler=behind_pooler, timeout=settings.database_timeout
    )
    listen_url = settings.direct_database_url or (None if behind_pooler else settings.database_url)
    return Database(engine, listen_url)


async def accepts_writes(engine: AsyncEngine) -> bool:
    """Whether the database answers and takes writes. PostgreSQL: whether a new
    transaction would be read-write (false on a standby and under
    default_transaction_read_only). SQLite: by writing (the header's user_version, which
    Hookline does not use, rewritten with its own value), which fails on a full disk."""
    async with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            version = int(await conn.scalar(text("PRAGMA user_version")) or 0)
            await conn.execute(text(f"PRAGMA user_version = {version}"))
            return True
        read_only = await conn.scalar(text("SELECT current_setting('transaction_read_only')"))
        return read_only == "off"


async def readiness_problem(engine: AsyncEngine, within: float) -> str | None:
    """None when the database answers a trivial query within ``within`` seconds and
    takes writes; else why not, in words fit for an unauthenticated caller."""
    try:
        async with asyncio.timeout(within):
            writable = await accepts_writes(engine)
    except Exception as exc:
        fault = database_fault(exc)
        if fault is None:
            raise
        if fault.kind == "timeout":
            return f"the database did not answer within {within:g} s"
        return fault.summary
    return None if writable else "the database is read-only"
