"""The pure and the small parts of surviving the database: the outage log, telling a
database fault from any other error (with the drivers' real exceptions), the mapping to
Unavailable at the service boundary, multi-host URLs, and the settings' documentation."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from hookline.app import Services
from hookline.bench.postgres import PostgresCluster
from hookline.config import Settings, SettingsError
from hookline.errors import Unavailable
from hookline.outage import OutageLog
from hookline.service.keys import KeyService
from hookline.service.store_calls import StoreService
from hookline.store import database
from hookline.store.database import (
    Database,
    async_url,
    asyncpg_checked_out,
    asyncpg_dsn,
    create_engine,
)
from hookline.store.faults import database_fault
from tests.support.server import free_port

README = Path(__file__).resolve().parents[2] / "README.md"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, list[logging.LogRecord]]]:
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("test.outage")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    yield logger, records
    logger.handlers[:] = []


def lines(records: list[logging.LogRecord]) -> list[tuple[str, str]]:
    return [(r.levelname, r.getMessage()) for r in records]


def test_an_outage_is_a_few_lines_however_many_failures(captured) -> None:  # type: ignore[no-untyped-def]
    logger, records = captured
    clock = Clock()
    log = OutageLog(logger, reminder_seconds=30, clock=clock)
    for _ in range(65):  # a minute of outage, 50 failed requests a second
        for _request in range(50):
            log.failed("publish", "unreachable", "ConnectionRefusedError: refused")
        log.failed("claim", "unreachable", "ConnectionRefusedError: refused")
        clock.now += 1
    log.succeeded("claim")
    clock.now += 3
    log.succeeded("claim")

    said = lines(records)
    assert [level for level, _ in said] == ["ERROR", "WARNING", "WARNING", "INFO"], said
    assert "ConnectionRefusedError: refused" in said[0][1]
    assert said[1][1].startswith("database still unavailable after 30 s")
    assert "1531 failed since the last report: publish 1501, claim 30" in said[1][1]
    assert said[3][1] == (
        "database available again after 65.0 s; 3315 operations failed meanwhile: "
        "publish 3250, claim 65"
    )


def test_another_kind_of_fault_is_said_once(captured) -> None:  # type: ignore[no-untyped-def]
    logger, records = captured
    log = OutageLog(logger, clock=Clock())
    log.failed("publish", "unreachable", "refused")
    for _ in range(100):
        log.failed("publish", "read_only", "25006 read-only")
    assert lines(records) == [
        ("ERROR", "database unavailable (publish): refused; failing with 503 and retrying "
                  "until it is back"),
        ("WARNING", "database still unavailable, now also (publish): 25006 read-only"),
    ]  # fmt: skip


def test_reads_that_succeed_do_not_end_an_outage_of_writes(captured) -> None:  # type: ignore[no-untyped-def]
    logger, records = captured
    clock = Clock()
    log = OutageLog(logger, clock=clock)
    log.failed("publish", "read_only", "25006")
    for _ in range(10):
        clock.now += 5
        log.succeeded("list webhooks")  # never failed: the primary still answers reads
    assert [level for level, _ in lines(records)] == ["ERROR"]
    log.succeeded("publish")
    assert [level for level, _ in lines(records)] == ["ERROR", "INFO"]


def test_the_end_waits_until_nothing_fails(captured) -> None:  # type: ignore[no-untyped-def]
    """One part reconnects (LISTEN on a direct URL) while another still fails (through a
    pooler that waits to log in again): not yet the end; the end is dated from the first
    success after the last failure."""
    logger, records = captured
    clock = Clock()
    log = OutageLog(logger, clock=clock, settle_seconds=2.5)
    log.failed("listen", "unreachable", "refused")
    log.failed("record", "unreachable", "08P01 server_login_retry")
    clock.now += 1
    log.succeeded("listen")
    clock.now += 1
    log.failed("record", "unreachable", "08P01 server_login_retry")
    clock.now += 1
    log.succeeded("record")
    clock.now += 1
    log.succeeded("claim")  # never failed, but the end is already under way
    assert [level for level, _ in lines(records)] == ["ERROR"]
    clock.now += 2
    log.succeeded("claim")
    assert lines(records)[-1] == (
        "INFO",
        "database available again after 3.0 s; 3 operations failed meanwhile: record 2, listen 1",
    )


def test_tracebacks_only_at_debug_and_once_per_cause(captured) -> None:  # type: ignore[no-untyped-def]
    logger, records = captured
    log = OutageLog(logger, clock=Clock())
    for _ in range(5):
        log.failed("publish", "unreachable", "refused", ConnectionRefusedError("refused"))
    assert not any(r.exc_info for r in records)
    logger.setLevel(logging.DEBUG)
    for _ in range(5):
        log.failed("publish", "unreachable", "refused", ConnectionRefusedError("refused"))
        log.failed("publish", "read_only", "25006", RuntimeError("read-only"))
    assert [r.exc_info[0] for r in records if r.exc_info] == [  # type: ignore[index]
        ConnectionRefusedError,
        RuntimeError,
    ]


def test_sqlite_faults_from_the_driver_itself(tmp_path: Path) -> None:
    path = tmp_path / "faults.db"
    writer = sqlite3.connect(path, timeout=0)
    writer.execute("CREATE TABLE t (x INTEGER PRIMARY KEY)")
    writer.commit()

    read_only = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    with pytest.raises(sqlite3.Error) as refused:
        read_only.execute("INSERT INTO t VALUES (1)")
    assert database_fault(refused.value).kind == "read_only"  # type: ignore[union-attr]

    writer.execute("BEGIN EXCLUSIVE")
    other = sqlite3.connect(path, timeout=0)
    with pytest.raises(sqlite3.Error) as locked:
        other.execute("INSERT INTO t VALUES (2)")
    assert database_fault(locked.value).kind == "busy"  # type: ignore[union-attr]
    writer.execute("INSERT INTO t VALUES (3)")
    writer.commit()

    with pytest.raises(sqlite3.IntegrityError) as duplicate:
        writer.execute("INSERT INTO t VALUES (3)")
    assert database_fault(duplicate.value) is None  # the data's fault, not the database's
    assert database_fault(ValueError("a bug")) is None


def silent_listener() -> socket.socket:
    """A loopback port that takes connections and never says a word."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.listen(16)
    return listener


def test_postgresql_faults_from_the_driver_itself() -> None:
    async def connect(port: int) -> None:
        await asyncpg.connect(host="127.0.0.1", port=port, user="x", timeout=0.5)

    with pytest.raises(OSError) as refused:
        asyncio.run(connect(free_port()))
    fault = database_fault(refused.value)
    assert fault is not None and fault.kind == "unreachable"
    assert fault.cause.startswith("ConnectionRefusedError")

    with silent_listener() as silent, pytest.raises(TimeoutError) as timed_out:
        asyncio.run(connect(silent.getsockname()[1]))
    assert database_fault(timed_out.value).kind == "timeout"  # type: ignore[union-attr]

    # What asyncpg says when a statement starts on a connection still reading the error
    # the server said goodbye with.
    mid_goodbye = asyncpg.InternalClientError(
        "cannot switch to state 12; another operation (2) is in progress"
    )
    assert database_fault(mid_goodbye).kind == "unreachable"  # type: ignore[union-attr]


def authenticate(database_url: str, timeout: float = 1.0) -> None:
    async def run() -> None:
        engine = create_engine(database_url, timeout=timeout)
        try:
            await KeyService(engine, None, 1.0).authenticate("hl_anything")
        finally:
            await engine.dispose()

    asyncio.run(run())


def test_an_unreachable_postgresql_is_unavailable() -> None:
    with pytest.raises(Unavailable) as refused:
        authenticate(f"postgresql://postgres@127.0.0.1:{free_port()}/hookline")
    assert refused.value.status == 503
    assert refused.value.code == "database_unavailable"
    assert refused.value.detail == "the database cannot be reached; try again shortly"


def test_a_postgresql_that_does_not_answer_is_unavailable_in_time() -> None:
    with silent_listener() as silent, pytest.raises(Unavailable) as silence:
        authenticate(f"postgresql://postgres@127.0.0.1:{silent.getsockname()[1]}/h", 0.5)
    assert silence.value.detail == "the database did not answer in time; try again shortly"


def test_an_exhausted_pool_is_unavailable(tmp_path: Path) -> None:
    async def run() -> None:
        engine = create_engine(f"sqlite:///{tmp_path / 'pool.db'}", timeout=0.2)
        try:
            async with engine.connect():  # SQLite's one pooled connection, held
                await KeyService(engine, None, 1.0).authenticate("hl_anything")
        finally:
            await engine.dispose()

    with pytest.raises(Unavailable) as exhausted:
        asyncio.run(run())
    assert exhausted.value.detail.startswith("no database connection came free in time")


def test_every_service_maps_database_faults(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'services.db'}")
    services = Services.build(Database(engine, listen_url=None), Settings())
    for field in dataclasses.fields(services):
        if field.name not in {"settings", "wake"}:
            assert isinstance(getattr(services, field.name), StoreService), field.name
    asyncio.run(engine.dispose())


def test_a_pooled_connection_the_server_dropped_is_replaced(
    postgres: PostgresCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: a pooled connection idle past ``PING_WHEN_IDLE_SECONDS`` is pinged on
    checkout, so one the server dropped meanwhile is replaced before any statement. One
    back in use sooner is not pinged: a drop just before fails its statement, and the
    next gets a new connection."""
    url = postgres.create_database()
    monkeypatch.setattr(database, "PING_WHEN_IDLE_SECONDS", 0.5)

    async def work() -> None:
        engine = create_engine(url)
        killer = await asyncpg.connect(asyncpg_dsn(url))

        async def backend_pid() -> int:
            async with engine.begin() as conn:
                return (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()

        async def drop(pid: int) -> None:
            # Waits until the backend is gone, so the next statement cannot reach it first.
            assert await killer.fetchval("SELECT pg_terminate_backend($1, 5000)", pid)

        try:
            first = await backend_pid()
            await drop(first)
            await asyncio.sleep(0.7)
            second = await backend_pid()  # pinged, found dropped, replaced: no error
            assert second != first
            await drop(second)
            with pytest.raises(DBAPIError) as failed:
                await backend_pid()
            assert failed.value.connection_invalidated
            assert await backend_pid() not in (first, second)
        finally:
            await killer.close()
            await engine.dispose()

    asyncio.run(work())


def test_a_pooled_connection_the_server_ends_is_a_fault_then_replaced(
    postgres: PostgresCluster,
) -> None:
    """The server ends a pooled connection (as a shutdown does, to all of them) and a hot
    path's statement runs on it at once: whichever way asyncpg finds out (its last error
    still being read, the close, or both), the failure is a database fault, said in one
    line and never a traceback, and the next checkout gets a new connection."""
    url = postgres.create_database()

    async def work() -> None:
        engine = create_engine(url)
        killer = await asyncpg.connect(asyncpg_dsn(url))
        failures: list[BaseException] = []
        try:
            for attempt in range(20):
                async with asyncpg_checked_out(engine) as connection:
                    pid = await connection.fetchval("SELECT pg_backend_pid()")
                await killer.execute(f"SELECT pg_terminate_backend({pid})")  # no wait
                await asyncio.sleep(0.001 * (attempt % 5))
                try:
                    async with asyncpg_checked_out(engine) as connection:
                        await connection.fetchval("SELECT 1")
                except Exception as exc:
                    failures.append(exc)
                async with asyncpg_checked_out(engine) as connection:
                    assert await connection.fetchval("SELECT 1") == 1
        finally:
            await killer.close()
            await engine.dispose()
        assert [f for f in failures if database_fault(f) is None] == []

    asyncio.run(work())


def test_multi_host_urls_as_libpq_writes_them() -> None:
    url = async_url(
        "postgresql://app:p%40ss@db1:5432,db2,[::1]:5433/hookline?target_session_attrs=read-write"
    )
    assert url.drivername == "postgresql+asyncpg"
    assert url.password == "p@ss"
    assert url.database == "hookline"
    assert url.query["host"] == ("db1:5432", "db2:5432", "[::1]:5433")
    assert url.query["target_session_attrs"] == "read-write"
    assert async_url("postgresql://app@db1/hookline").host == "db1"
    assert asyncpg_dsn("postgresql+asyncpg://a@h1,h2/d") == "postgresql://a@h1,h2/d"
    with pytest.raises(SettingsError):
        async_url("postgresql://app@db1,,db2/hookline")
    with pytest.raises(SettingsError):
        async_url("postgresql://app@db1:notaport/hookline")


def test_pooler_setting_is_checked() -> None:
    assert Settings.from_env({"HOOKLINE_DATABASE_POOLER": "PgBouncer"}).database_pooler == (
        "pgbouncer"
    )
    with pytest.raises(SettingsError, match="HOOKLINE_DATABASE_POOLER"):
        Settings.from_env({"HOOKLINE_DATABASE_POOLER": "pgpool"})
    assert Settings.from_env({"HOOKLINE_DIRECT_DATABASE_URL": ""}).direct_database_url is None


def test_the_readme_lists_every_setting() -> None:
    documented = set(re.findall(r"^\| `(HOOKLINE_[A-Z_]+)` \|", README.read_text(), re.M))
    assert {f"HOOKLINE_{name.upper()}" for name in Settings.model_fields} <= documented
