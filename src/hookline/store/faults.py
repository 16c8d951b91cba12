"""Which exceptions mean "the database cannot do this now" (an outage, a restart, a full
disk, a read-only primary, an exhausted pool) rather than a fault in Hookline or in the
data. Only the store knows its drivers' exceptions, so the telling apart happens here;
the service layer turns what this recognises into ``hookline.errors.Unavailable``."""

from __future__ import annotations

import errno
import logging
import socket
import sqlite3
from dataclasses import dataclass

import asyncpg
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from hookline import outage


@dataclass(frozen=True)
class DatabaseFault:
    """``kind`` is stable and short (logs count by it, answers name it); ``cause`` is the
    driver's own words, for the log only (it may name hosts)."""

    kind: str
    cause: str

    @property
    def summary(self) -> str:
        return KINDS[self.kind]


# Each kind, as a client and an operator are told it.
KINDS = {
    "unreachable": "the database cannot be reached",
    "timeout": "the database did not answer in time",
    "pool_exhausted": "no database connection came free in time",
    "read_only": "the database is read-only",
    "disk_full": "the database's disk is full",
    "busy": "the database is locked by another process",
    "overloaded": "the database is out of connections or resources",
    "io_error": "the database cannot read or write its files",
}

# PostgreSQL SQLSTATEs (https://www.postgresql.org/docs/current/errcodes-appendix.html),
# by exact code and then by class. PgBouncer reports its own troubles as class 08.
SQLSTATE_KINDS = {
    "25006": "read_only",  # read_only_sql_transaction: default_transaction_read_only, a standby
    "53100": "disk_full",
    "57P01": "unreachable",  # admin_shutdown
    "57P02": "unreachable",  # crash_shutdown
    "57P03": "unreachable",  # cannot_connect_now: starting up, shutting down, recovering
}
SQLSTATE_CLASS_KINDS = {
    "08": "unreachable",  # connection_exception
    "53": "overloaded",  # insufficient_resources: too many connections, out of memory
    "58": "io_error",  # system_error, io_error
}
SQLITE_KINDS = {
    "SQLITE_FULL": "disk_full",
    "SQLITE_READONLY": "read_only",
    "SQLITE_BUSY": "busy",
    "SQLITE_LOCKED": "busy",
    "SQLITE_IOERR": "io_error",
    "SQLITE_CANTOPEN": "io_error",
    "SQLITE_NOMEM": "overloaded",
}
UNREACHABLE_ERRNOS = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ENETDOWN, errno.EHOSTDOWN}
CHAIN_LIMIT = 8  # how deep into __cause__ to look


def database_fault(exc: BaseException) -> DatabaseFault | None:
    """The fault ``exc`` (or what it wraps) reports, or None when it is not one."""
    chain = _chain(exc)
    for index, link in enumerate(chain):
        kind = _kind(link)
        if kind is not None:
            # In the words of the driver's own exception, below SQLAlchemy's wrappers.
            deepest = link
            for wrapped in chain[index + 1 :]:
                if _kind(wrapped) != kind:
                    break
                deepest = wrapped
            return DatabaseFault(kind, _cause(deepest))
    # SQLAlchemy judged the connection lost, for a reason not named above: typically, a
    # rollback on a connection that broke mid-statement, raised while handling the break,
    # which names the cause better.
    if any(isinstance(link, DBAPIError) and link.connection_invalidated for link in chain):
        handled = (link.__context__ for link in chain if link.__context__ is not None)
        earlier = next((fault for e in handled if (fault := database_fault(e))), None)
        cause = earlier.cause if earlier else _cause(chain[-1])
        return DatabaseFault("unreachable", f"the connection was lost ({cause})")
    return None


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it wraps (``raise … from``): the drivers' and SQLAlchemy's
    translations. Not what it was raised while handling: a bug in an ``except`` block
    stays a bug."""
    chain = [exc]
    while len(chain) < CHAIN_LIMIT:
        following = chain[-1].__cause__
        if following is None or following in chain:
            break
        chain.append(following)
    return chain


def _kind(exc: BaseException) -> str | None:
    if isinstance(exc, PoolTimeoutError):
        return "pool_exhausted"
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str) and len(sqlstate) == 5:
        return SQLSTATE_KINDS.get(sqlstate) or SQLSTATE_CLASS_KINDS.get(sqlstate[:2])
    if isinstance(exc, sqlite3.Error):
        # Extended names (SQLITE_IOERR_WRITE, SQLITE_READONLY_DBMOVED) by their primary.
        name = getattr(exc, "sqlite_errorname", "") or ""
        return SQLITE_KINDS.get("_".join(name.split("_")[:2]))
    if isinstance(exc, asyncpg.TargetServerAttributeNotMatched):
        return "read_only"  # no host is writable (yet): a failover under way
    if isinstance(exc, asyncpg.InterfaceError) and "connection is closed" in str(exc):
        return "unreachable"
    if isinstance(exc, asyncpg.InternalClientError) and "another operation" in str(exc):
        # A pooled connection the server ended (a shutdown, pg_terminate_backend): its
        # last message, an error, arrived before its close, and the next statement
        # found the connection still reading it.
        return "unreachable"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionError | socket.gaierror):
        return "unreachable"
    if isinstance(exc, OSError) and exc.errno in UNREACHABLE_ERRNOS:
        return "unreachable"
    return None


def _cause(exc: BaseException) -> str:
    """The exception in one line: its class, SQLSTATE if any, and first line of text."""
    lines = str(exc).strip().splitlines()
    sqlstate = getattr(exc, "sqlstate", None)
    name = f"{type(exc).__name__} {sqlstate}" if sqlstate else type(exc).__name__
    return f"{name}: {lines[0]}" if lines else name


def note_failure(what: str, exc: BaseException, log: logging.Logger) -> None:
    """For the store's callers that retry by themselves (the worker's loops, the LISTEN
    connection, the purge): a database fault goes to the process's outage log, which
    says it once; anything else is a fault in Hookline, logged with its traceback."""
    fault = database_fault(exc)
    if fault is None:
        log.error("%s failed", what, exc_info=exc)
    else:
        outage.database.failed(what, fault.kind, fault.cause, exc)


# SQLSTATE classes of a statement refused for what it holds: 22 data exception (NUL in
# text, a value out of range), 23 integrity constraint. Retrying such a statement fails
# the same way, unlike a fault above, which may pass.
DATA_SQLSTATE_CLASSES = ("22", "23")
# The same, by exception: SQLAlchemy's, and sqlite3's own from the statements the store
# runs on SQLite without SQLAlchemy.
DATA_ERRORS = (UnicodeError, DataError, IntegrityError, sqlite3.DataError, sqlite3.IntegrityError)


def is_data_problem(exc: BaseException) -> bool:
    """Whether the database refused a statement for its data. asyncpg's errors reach
    SQLAlchemy as bare DBAPIErrors, so the SQLSTATE decides, wherever in the chain."""
    for link in _chain(exc):
        if isinstance(link, DATA_ERRORS):
            return True
        sqlstate = getattr(link, "sqlstate", None)
        if isinstance(sqlstate, str) and len(sqlstate) == 5:
            return sqlstate[:2] in DATA_SQLSTATE_CLASSES
    return False


def has_sqlstate(exc: BaseException, sqlstate: str) -> bool:
    """Whether PostgreSQL refused the statement with this SQLSTATE, wherever in the chain."""
    return any(getattr(link, "sqlstate", None) == sqlstate for link in _chain(exc))
