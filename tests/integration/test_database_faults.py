"""Chaos: the database fails under load, as an operator would see it, on both backends.

Each test keeps publishing through the fault and asserts what the issue asks for: every
answer a 202 or a 503 with Retry-After (never a 500, never a hang), /readyz 503 during the
fault and 200 after, a few log lines per process rather than one per failure (one ERROR,
one INFO, no traceback), every accepted event delivered, and recovery by the same
processes, without a restart.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hookline.bench.postgres import PostgresCluster
from hookline.store.notify import CHANNEL
from tests.conftest import seed_example, unique
from tests.support.chaos import LogWindow, PgBouncer, Publisher, fill, readiness, small_filesystem
from tests.support.receiver import Receiver, Reply
from tests.support.server import HooklineServer, HooklineWorker
from tests.support.waiting import eventually
from tests.support.workspace import Workspace

# Publishes refused before the database is mended: with two threads publishing every
# 20 ms, a few seconds of outage, during which the worker polls and retries too.
OUTAGE_REFUSALS = 60
REMINDER = "database still unavailable after"
BACK = "database available again"
# What a process may write about one fault, the per-attempt lines of deliveries aside.
LOG_LINES_LIMIT = 12
CHAOS_ENV = {
    "HOOKLINE_LOG_FORMAT": "json",
    "HOOKLINE_RETRY_SCHEDULE": "0.3,0.3,0.3",
    "HOOKLINE_DELIVERY_TIMEOUT": "2",
    "HOOKLINE_LEASE_SECONDS": "10",
    "HOOKLINE_DATABASE_TIMEOUT": "2",
    # A reminder every 2 s: the outages below last long enough to show one.
    "HOOKLINE_OUTAGE_LOG_INTERVAL": "2",
}


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    """A cluster of this test's own, to stop, restart and turn read-only."""
    running = PostgresCluster().start()
    yield running
    running.stop()


def hookline(
    workdir: Path, database_url: str, serve_args: tuple[str, ...] = (), **env: str
) -> HooklineServer:
    return HooklineServer(
        workdir, env=CHAOS_ENV | env, database_url=database_url, serve_args=serve_args
    )


def survive(
    server: HooklineServer,
    receiver: Receiver,
    break_database: Callable[[], None],
    mend_database: Callable[[], None],
    refusals: int = OUTAGE_REFUSALS,
    others: tuple[HooklineWorker, ...] = (),
    until_reminded: bool = True,
) -> None:
    """Publish before, during and after a fault; assert everything the module says."""
    assert server.process is not None
    workspace = Workspace.on(server, unique("chaos"))
    path, posting = "/" + unique("chaos"), unique("posting")
    workspace.create_webhook(receiver.url(path), posting, "interview_started")
    logs = [LogWindow(server.log_path), *(LogWindow(other.log_path) for other in others)]
    publisher = Publisher(
        server.base_url,
        workspace.publisher.headers["X-API-KEY"],
        seed_example("interview_started") | {"posting_id": posting},
        threads=2,
    ).start()
    try:
        eventually(lambda: publisher.count(202) >= 5, timeout=20, what="accepted before")
        broken_at = time.monotonic()
        break_database()
        eventually(
            lambda: readiness(server.base_url).status_code == 503, timeout=20, what="/readyz 503"
        )
        eventually(
            lambda: publisher.count(503) >= refusals, timeout=30, what=f"{refusals} refusals"
        )
        if until_reminded:  # the outage lasts until the log has said it still lasts
            eventually(
                lambda: any(e["message"].startswith(REMINDER) for e in logs[0].entries()),
                timeout=30,
                what="a reminder in the log",
            )
        mend_database()
        mended_at = time.monotonic()
        eventually(
            lambda: readiness(server.base_url).status_code == 200, timeout=30, what="/readyz 200"
        )
        ready_at = time.monotonic()
        eventually(
            lambda: publisher.count(202, after=mended_at) >= 5, timeout=30, what="accepted after"
        )
        # Each process says the database is back once what failed succeeds again; the
        # publishing goes on until then, as traffic would.
        eventually(
            lambda: all(any(e["message"].startswith(BACK) for e in log.entries()) for log in logs),
            timeout=30,
            what="every process logged the end of the outage",
        )
    finally:
        publisher.stop()
    print(
        f"\nanswers {publisher.statuses()}; database down for {mended_at - broken_at:.1f} s, "
        f"/readyz 200 again {ready_at - mended_at:.1f} s after"
    )
    assert publisher.failures == []
    assert set(publisher.statuses()) <= {202, 503}, publisher.statuses()
    assert publisher.count(503) >= refusals
    assert publisher.refused_without_retry_after() == []

    accepted = publisher.accepted()

    def missing() -> set[str]:
        delivered = {json.loads(r.body)["interview_id"] for r in receiver.at(path)}
        return accepted - delivered

    try:
        eventually(lambda: not missing(), timeout=30, what="every accepted event delivered")
    except AssertionError:
        raise AssertionError(f"accepted, never delivered: {sorted(missing())}") from None
    for process in (server, *others):
        assert process.process is not None and process.process.poll() is None, process.log()
    for log in logs:
        assert_few_lines(log)


def assert_few_lines(log: LogWindow) -> None:
    entries = log.about_the_database()
    shown = "\n".join(f"{e['level']} {e['logger']} {e['message']}" for e in entries)
    print(f"{log.path.name}: {len(entries)} lines\n{shown}")
    messages = [e["message"] for e in entries]
    assert len([m for m in messages if m.startswith("database unavailable")]) == 1, shown
    assert len([m for m in messages if m.startswith(BACK)]) == 1, shown
    assert [e for e in entries if "exception" in e] == [], "no traceback at INFO"
    assert len(entries) <= LOG_LINES_LIMIT, shown


def test_postgres_stopped_and_started(
    cluster: PostgresCluster, receiver: Receiver, tmp_path: Path
) -> None:
    server = hookline(tmp_path, cluster.create_database()).start()
    try:
        survive(server, receiver, cluster.stop_server, cluster.start_server)
    finally:
        server.stop()


def test_postgres_crash_restart(
    cluster: PostgresCluster, receiver: Receiver, tmp_path: Path
) -> None:
    """Killed (immediate shutdown: crash recovery on start) and started again at once."""
    database_url = cluster.create_database()
    # The throwaway cluster runs with synchronous_commit=off, which may lose the last
    # commits in a crash by design; a production primary does not.
    cluster.psql(f"ALTER DATABASE {database_url.rsplit('/', 1)[1]} SET synchronous_commit = on")
    server = hookline(tmp_path, database_url).start()
    try:
        survive(
            server,
            receiver,
            lambda: cluster.stop_server("immediate"),
            cluster.start_server,
            refusals=1,
            until_reminded=False,
        )
    finally:
        server.stop()


def listening_on(cluster: PostgresCluster) -> bool:
    """Whether the worker's LISTEN connection is open on ``cluster``'s server itself."""
    sessions = cluster.psql(
        "SELECT count(*) FROM pg_stat_activity "
        f"WHERE application_name = 'hookline-listen {CHANNEL}'"
    )
    return sessions == "1"


def set_read_only(cluster: PostgresCluster, read_only: bool) -> None:
    """As an operator fences a primary: every session's next transaction is read-only."""
    if read_only:
        cluster.psql("ALTER SYSTEM SET default_transaction_read_only = on")
    else:
        cluster.psql("ALTER SYSTEM RESET default_transaction_read_only")
    cluster.psql("SELECT pg_reload_conf()")


def test_postgres_read_only(cluster: PostgresCluster, receiver: Receiver, tmp_path: Path) -> None:
    server = hookline(tmp_path, cluster.create_database()).start()
    try:
        survive(
            server,
            receiver,
            lambda: set_read_only(cluster, True),
            lambda: set_read_only(cluster, False),
        )
        # What an operator reads on /readyz meanwhile is tested below with the failover.
    finally:
        server.stop()


def test_failover_to_the_promoted_standby(
    cluster: PostgresCluster, receiver: Receiver, tmp_path: Path
) -> None:
    """A multi-host URL with target_session_attrs=read-write: the primary turns read-only,
    its standby catches up and is promoted, and Hookline moves to it by itself."""
    database_url = cluster.create_database()
    standby = PostgresCluster().start_as_standby_of(cluster)
    name = database_url.rsplit("/", 1)[1]
    both = (
        f"postgresql://postgres@127.0.0.1:{cluster.port},127.0.0.1:{standby.port}/{name}"
        "?target_session_attrs=read-write"
    )
    server = hookline(tmp_path, both).start()

    def fence_the_primary() -> None:
        set_read_only(cluster, True)
        answer = readiness(server.base_url)
        assert answer.status_code == 503
        assert answer.headers["retry-after"]
        assert answer.json()["code"] == "database_unavailable"

    def promote_the_standby() -> None:
        primary_lsn = cluster.psql("SELECT pg_current_wal_lsn()")
        eventually(
            lambda: standby.psql(f"SELECT pg_last_wal_replay_lsn() >= '{primary_lsn}'") == "t",
            timeout=20,
            what="the standby replayed everything the primary wrote",
        )
        standby.promote()

    try:
        survive(server, receiver, fence_the_primary, promote_the_standby)
        # The LISTEN connection moved too: a former primary's LISTEN hears nothing.
        eventually(
            lambda: listening_on(standby),
            timeout=20,
            what="LISTEN on the new primary",
        )
    finally:
        server.stop()
        standby.stop()


def test_sqlite_disk_full(receiver: Receiver, tmp_path: Path) -> None:
    with small_filesystem("16m") as disk:
        server = hookline(tmp_path, f"sqlite:///{disk / 'hookline.db'}").start()
        filler: list[Path] = []
        try:
            survive(
                server,
                receiver,
                lambda: filler.append(fill(disk)),
                lambda: filler.pop().unlink(),
            )
        finally:
            server.stop()


def _truncate_the_log(database: Path) -> bool:
    connection = sqlite3.connect(database)
    try:
        busy, _, _ = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        connection.close()
    return busy == 0 and Path(f"{database}-wal").stat().st_size == 0


def test_sqlite_disk_full_sends_nothing_twice(receiver: Receiver, tmp_path: Path) -> None:
    """SQLite's claims are reads, and reads work on a full disk: while outcomes cannot be
    written the worker claims nothing, so no lease runs out into a second send."""
    with small_filesystem("16m") as disk:
        server = hookline(
            tmp_path,
            f"sqlite:///{disk / 'hookline.db'}",
            HOOKLINE_LEASE_SECONDS="2",
            HOOKLINE_DELIVERY_TIMEOUT="1",
        ).start()
        try:
            workspace = Workspace.on(server, unique("full"))
            path, posting = "/" + unique("full"), unique("posting")
            # Slow answers: the disk fills while the attempts are in flight.
            receiver.script(path, [Reply(delay=0.5)])
            workspace.create_webhook(receiver.url(path), posting, "interview_started")
            payload = seed_example("interview_started") | {"posting_id": posting}
            for n in range(3):
                event = payload | {"interview_id": f"i{n}"}
                response = workspace.publish("interview_started", event)
                assert response.status_code == 202, response.text
            receiver.wait_for(path, 3)
            # Empty the log, so the outcomes' writes need new blocks, then leave none.
            eventually(lambda: _truncate_the_log(disk / "hookline.db"), what="a checkpoint")
            filler = fill(disk)
            # Twice the lease: time for a lease of an unrecorded attempt to run out.
            time.sleep(4.5)
            assert len(receiver.at(path)) == 3
            filler.unlink()
            eventually(
                lambda: readiness(server.base_url).status_code == 200, timeout=30, what="/readyz"
            )
            ids = [r.headers["webhook-id"] for r in receiver.at(path)]
            assert len(ids) == len(set(ids)) == 3, ids
        finally:
            server.stop()


@pytest.fixture
def pgbouncer(cluster: PostgresCluster) -> Iterator[PgBouncer]:
    running = PgBouncer(cluster).start()
    yield running
    running.stop()


def test_pgbouncer_transaction_mode_through_a_postgres_outage(
    cluster: PostgresCluster, pgbouncer: PgBouncer, receiver: Receiver, tmp_path: Path
) -> None:
    """API and worker as separate processes behind PgBouncer in transaction mode, the
    pooler found out at start (HOOKLINE_DATABASE_POOLER=auto), LISTEN and migrations on
    the direct URL. The worker polls only once a minute here: deliveries arriving at all
    in time shows that its LISTEN works."""
    direct = cluster.create_database()
    server = hookline(
        tmp_path,
        pgbouncer.url(direct),
        ("--no-worker",),
        HOOKLINE_DIRECT_DATABASE_URL=direct,
        HOOKLINE_POLL_INTERVAL="60",
    ).start()
    worker = HooklineWorker(server, "pgbouncer").start()
    try:
        eventually(
            lambda: listening_on(cluster),
            timeout=20,
            what="the worker LISTENs on the direct connection",
        )
        survive(server, receiver, cluster.stop_server, cluster.start_server, others=(worker,))
    finally:
        assert worker.stop() == 0
        server.stop()
    for process in (server, worker):
        assert "a connection pooler answers" in process.log()
        assert 'prepared statement "' not in process.log()  # no "…" already exists


def test_pgbouncer_without_a_direct_url_polls(
    cluster: PostgresCluster, pgbouncer: PgBouncer, receiver: Receiver, tmp_path: Path
) -> None:
    """HOOKLINE_DATABASE_POOLER=pgbouncer and no direct URL: migrations through the pooler,
    no LISTEN, the worker polls; a restart of PgBouncer itself is one more fault."""
    server = hookline(
        tmp_path, pgbouncer.url(cluster.create_database()), HOOKLINE_DATABASE_POOLER="pgbouncer"
    ).start()
    try:
        survive(server, receiver, pgbouncer.stop_process, pgbouncer.start)
    finally:
        server.stop()
    assert "the worker polls every 0.2 s" in server.log()
    assert 'prepared statement "' not in server.log()
