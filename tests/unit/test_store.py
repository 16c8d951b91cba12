"""The store's set-based statements on both backends: fan-out, group commit, the claim
with its per-webhook window and lease, recording outcomes, the log's cursors, retention;
on PostgreSQL, the planner statistics kept fresh."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import asyncpg
import pytest
from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hookline.bench.postgres import PostgresCluster
from hookline.delivery.statistics import StatisticsKeeper
from hookline.domain import codec
from hookline.domain.attempts import AttemptOutcome, judge_health
from hookline.domain.keys import Role
from hookline.domain.webhooks import DeliveryStatus, HttpMethod
from hookline.errors import InvalidInput
from hookline.store import delivery_log, notify, queue, retention
from hookline.store import events as event_store
from hookline.store import keys as key_store
from hookline.store import webhooks as webhook_store
from hookline.store.database import asyncpg_dsn, create_engine, single_statements
from hookline.store.events import NewEvent
from hookline.store.group_commit import PublishBatcher
from hookline.store.keys import CreatedKey, Workspace
from hookline.store.migrate import upgrade_to_head
from hookline.store.schema import webhooks
from hookline.store.statistics import TABLES, analyze, stale_tables

T = TypeVar("T")
Work = Callable[[AsyncEngine], Awaitable[T]]


@pytest.fixture
def on_database(new_database_url: str) -> Callable[[Work[T]], T]:
    """Run a coroutine against a freshly migrated database of this test's backend."""
    upgrade_to_head(new_database_url)

    def run(work: Work[T]) -> T:
        async def with_engine() -> T:
            engine = create_engine(new_database_url)
            try:
                return await work(engine)
            finally:
                await engine.dispose()

        return asyncio.run(with_engine())

    return run


async def _workspace(engine: AsyncEngine, name: str) -> str:
    created = await key_store.create_workspace(engine, name)
    assert created is not None
    return created.workspace_id


async def _webhook(
    engine: AsyncEngine,
    workspace_id: str,
    posting_id: str = "p",
    event_type: str = "interview_started",
) -> str:
    webhook = await webhook_store.create_webhook(
        engine, workspace_id, posting_id, "http://127.0.0.1:9/h", event_type, HttpMethod.POST
    )
    return webhook.webhook_id


def _event(workspace_id: str, posting_id: str = "p", key: str | None = None) -> NewEvent:
    return NewEvent(workspace_id, "interview_started", posting_id, "i-1", b"{}", key)


def test_fan_out_matches_workspace_posting_type_and_activity(on_database) -> None:  # type: ignore[no-untyped-def]
    async def work(engine: AsyncEngine) -> None:
        acme, globex = await _workspace(engine, "acme"), await _workspace(engine, "globex")
        matching = {await _webhook(engine, acme), await _webhook(engine, acme)}
        await _webhook(engine, acme, posting_id="other")
        await _webhook(engine, acme, event_type="report_available")
        inactive = await _webhook(engine, acme)
        await webhook_store.set_active(engine, acme, inactive, active=False)
        await _webhook(engine, globex)

        published = await event_store.publish_batch(engine, [_event(acme), _event(globex)])
        assert [p.deliveries for p in published] == [2, 1]
        event = await event_store.get_event(engine, acme, published[0].event_id)
        assert event is not None
        assert {d.webhook_id for d in event.deliveries} == matching
        assert await event_store.get_event(engine, globex, published[0].event_id) is None

    on_database(work)


def test_group_commit_stores_every_concurrent_publish(on_database) -> None:  # type: ignore[no-untyped-def]
    async def work(engine: AsyncEngine) -> None:
        acme = await _workspace(engine, "acme")
        await _webhook(engine, acme)
        batcher = PublishBatcher(engine)
        batcher.start()
        try:
            published = await asyncio.gather(*(batcher.publish(_event(acme)) for _ in range(60)))
            keyed = await batcher.publish(_event(acme, key="k"))
            again = await batcher.publish(_event(acme, key="k"))
        finally:
            await batcher.stop()
        assert len({p.event_id for p in published}) == 60
        assert all(p.deliveries == 1 and not p.replayed for p in published)
        assert again.event_id == keyed.event_id
        assert again.replay_of == ("interview_started", b"{}")
        found = await event_store.search_events(engine, acme, limit=100)
        assert len(found) == 61

    on_database(work)


def test_the_claim_keeps_the_per_webhook_window_and_the_lease(on_database) -> None:  # type: ignore[no-untyped-def]
    async def work(engine: AsyncEngine) -> None:
        acme = await _workspace(engine, "acme")
        busy, quiet, skipped = (
            await _webhook(engine, acme, "busy"),
            await _webhook(engine, acme, "quiet"),
            await _webhook(engine, acme, "skipped"),
        )
        batch = [_event(acme, "busy")] * 10 + [_event(acme, "quiet")] * 3
        await event_store.publish_batch(engine, [*batch, _event(acme, "skipped")])

        claimed = await queue.claim_due(
            engine, limit=50, lease_seconds=60, per_webhook=2, skip_webhooks=[skipped]
        )
        assert Counter(c.webhook_id for c in claimed) == {busy: 2, quiet: 2}
        # Leased: the next claim passes over them and takes the rest of the window.
        again = await queue.claim_due(engine, limit=50, lease_seconds=60, per_webhook=2)
        assert not {c.delivery_id for c in again} & {c.delivery_id for c in claimed}
        assert Counter(c.webhook_id for c in again) == {busy: 2, quiet: 1, skipped: 1}
        released = await queue.release_claims(engine, [c.delivery_id for c in claimed])
        assert released == len(claimed)
        # What is leased is not due for this worker; what was released is.
        rest = await queue.claim_due(engine, limit=50, lease_seconds=0.2, per_webhook=20)
        assert len(rest) == 14 - len(again)
        assert await queue.next_due_at(engine) is None
        # A lease that ends (its worker died mid-send) frees the delivery for any claim.
        await asyncio.sleep(0.3)
        assert await queue.next_due_at(engine) is not None
        retaken = await queue.claim_due(engine, limit=50, lease_seconds=60, per_webhook=20)
        assert {c.delivery_id for c in retaken} == {c.delivery_id for c in rest}

    on_database(work)


def test_the_claim_looks_only_at_its_limit_of_due_rows(on_database) -> None:  # type: ignore[no-untyped-def]
    """What is due behind a webhook's rows past the claim's limit is left to the next
    claim, which the worker makes at once, passing over that webhook."""

    async def work(engine: AsyncEngine) -> None:
        acme = await _workspace(engine, "acme")
        ahead, behind = (
            await _webhook(engine, acme, "ahead"),
            await _webhook(engine, acme, "behind"),
        )
        await event_store.publish_batch(engine, [_event(acme, "ahead")] * 10)
        await event_store.publish_batch(engine, [_event(acme, "behind")] * 3)

        first = await queue.claim_due(engine, limit=4, lease_seconds=60, per_webhook=2)
        assert Counter(c.webhook_id for c in first) == {ahead: 2}
        then = await queue.claim_due(
            engine, limit=4, lease_seconds=60, per_webhook=2, skip_webhooks=[ahead]
        )
        assert Counter(c.webhook_id for c in then) == {behind: 2}

    on_database(work)


def test_a_redelivery_in_flight_goes_once_the_attempt_is_recorded(on_database) -> None:  # type: ignore[no-untyped-def]
    """Redelivering a delivery in flight queues one more attempt after it, on either
    backend: not a second one alongside (the lease holds), and not lost when the first
    attempt's success is recorded (which used to overwrite the redelivery)."""

    async def work(engine: AsyncEngine) -> None:
        acme = await _workspace(engine, "acme")
        webhook = await _webhook(engine, acme)
        await event_store.publish_batch(engine, [_event(acme)])
        (claimed,) = await queue.claim_due(engine, 10, 60, per_webhook=5)
        result = await delivery_log.redeliver(engine, acme, claimed.delivery_id)
        assert result.found and result.webhook_active
        assert await queue.claim_due(engine, 10, 60, per_webhook=5) == []  # still in flight

        outcomes = [_outcome(claimed, 200)]
        health = judge_health(outcomes, time.time(), 3600)
        overtaken = await queue.record_outcomes(engine, outcomes, health)
        assert overtaken == [claimed.delivery_id]  # queued again, not settled
        (logged,) = (await delivery_log.list_deliveries(engine, acme, webhook, None, 10, None)).data
        assert (logged.status, logged.attempt_count) == ("pending", 1)
        assert [a.status_code for a in logged.attempts] == [200]

        (again,) = await queue.claim_due(engine, 10, 60, per_webhook=5)
        assert (again.delivery_id, again.attempt_count) == (claimed.delivery_id, 1)
        outcomes = [_outcome(again, 200, attempt_number=2)]
        health = judge_health(outcomes, time.time(), 3600)
        assert await queue.record_outcomes(engine, outcomes, health) == []
        (logged,) = (await delivery_log.list_deliveries(engine, acme, webhook, None, 10, None)).data
        assert (logged.status, logged.attempt_count) == ("succeeded", 2)

    on_database(work)


def test_concurrent_claims_never_share_a_delivery(on_database) -> None:  # type: ignore[no-untyped-def]
    async def work(engine: AsyncEngine) -> None:
        acme = await _workspace(engine, "acme")
        for posting in range(20):
            await _webhook(engine, acme, f"p{posting}")
        await event_store.publish_batch(engine, [_event(acme, f"p{p % 20}") for p in range(200)])
        ids: list[str] = []
        for _ in range(20):  # rounds of six claims at once, until nothing is left
            claims = await asyncio.gather(
                *(queue.claim_due(engine, 30, 60, per_webhook=20) for _ in range(6))
            )
            if not any(claims):
                break
            ids += [c.delivery_id for claim in claims for c in claim]
        assert len(ids) == len(set(ids)) == 200

    on_database(work)


def _outcome(claimed: queue.ClaimedDelivery, code: int | None, **changes: object) -> AttemptOutcome:
    values: dict[str, object] = {
        "delivery_id": claimed.delivery_id,
        "webhook_id": claimed.webhook_id,
        "event_type": claimed.event_type,
        "attempt_number": 1,
        "started_at": time.time(),
        "duration_ms": 3.0,
        "status_code": code,
        "response_excerpt": "ok",
        "error": None,
        "new_status": DeliveryStatus.SUCCEEDED if code == 200 else DeliveryStatus.PENDING,
        "next_attempt_at": None if code == 200 else time.time() + 5,
        "claimed_updated_at": claimed.updated_at,
    }
    return AttemptOutcome(**(values | changes))  # type: ignore[arg-type]


def test_recording_outcomes_sets_states_and_health(on_database) -> None:  # type: ignore[no-untyped-def]
    async def work(engine: AsyncEngine) -> None:
        acme = await _workspace(engine, "acme")
        ok, retry, gone = (
            await _webhook(engine, acme, "ok"),
            await _webhook(engine, acme, "retry"),
            await _webhook(engine, acme, "gone"),
        )
        events = [
            _event(acme, "ok"),
            _event(acme, "retry"),
            _event(acme, "gone"),
            _event(acme, "gone"),
        ]
        await event_store.publish_batch(engine, events)
        claimed = {c.webhook_id: c for c in await queue.claim_due(engine, 10, 60, per_webhook=1)}
        outcomes = [
            _outcome(claimed[ok], 200),
            _outcome(claimed[retry], 500),
            _outcome(claimed[gone], 410),
        ]
        await queue.record_outcomes(engine, outcomes, judge_health(outcomes, time.time(), 3600))

        page = await delivery_log.list_deliveries(engine, acme, ok, None, 10, None)
        assert page.data[0].status == "succeeded"
        assert page.data[0].attempts[0].status_code == 200
        page = await delivery_log.list_deliveries(engine, acme, retry, None, 10, None)
        assert page.data[0].status == "pending"
        assert page.data[0].next_attempt_at is not None
        disabled = await webhook_store.get_webhook(engine, acme, gone)
        assert disabled is not None and not disabled.is_active
        assert "410" in (disabled.disabled_reason or "")
        # Disabling cancels what the gone webhook still had pending, this one included.
        page = await delivery_log.list_deliveries(engine, acme, gone, None, 10, None)
        assert [d.status for d in page.data] == ["cancelled", "cancelled"]
        assert await queue.next_due_at(engine) is not None

    on_database(work)


def test_a_batch_the_database_refuses_leaves_nothing_half_written(on_database) -> None:  # type: ignore[no-untyped-def]
    """An outcome for a delivery that is not there (a foreign key refused) fails the whole
    batch as a data problem, on either backend: the batch's other rows are not written,
    and the connection's next batch commits only its own."""

    async def work(engine: AsyncEngine) -> None:
        acme = await _workspace(engine, "acme")
        webhook = await _webhook(engine, acme)
        await event_store.publish_batch(engine, [_event(acme)])
        (claimed,) = await queue.claim_due(engine, 10, 60, per_webhook=5)
        good = _outcome(claimed, 200)
        batch = [good, _outcome(claimed, 200, delivery_id="dlv_not_there")]
        with pytest.raises(queue.DataProblem):
            await queue.record_outcomes(engine, batch, judge_health(batch, time.time(), 3600))
        (logged,) = (await delivery_log.list_deliveries(engine, acme, webhook, None, 10, None)).data
        assert (logged.status, logged.attempts) == ("pending", [])

        await queue.record_outcomes(engine, [good], judge_health([good], time.time(), 3600))
        (logged,) = (await delivery_log.list_deliveries(engine, acme, webhook, None, 10, None)).data
        assert (logged.status, len(logged.attempts)) == ("succeeded", 1)

    on_database(work)


def test_unstorable_text_is_a_data_problem_not_an_outage(on_database, backend: str) -> None:  # type: ignore[no-untyped-def]
    async def work(engine: AsyncEngine) -> None:
        acme = await _workspace(engine, "acme")
        await _webhook(engine, acme)
        await event_store.publish_batch(engine, [_event(acme)])
        (claimed,) = await queue.claim_due(engine, 10, 60, per_webhook=5)
        outcome = _outcome(claimed, 200, response_excerpt="nul\x00here")
        record = queue.record_outcomes(engine, [outcome], judge_health([outcome], time.time(), 1))
        if backend == "postgresql":
            with pytest.raises(queue.DataProblem):
                await record
        else:  # SQLite stores NUL; the worker sanitizes before either backend sees it
            await record

    on_database(work)


def test_the_delivery_log_pages_with_cursors_and_stays_in_its_workspace(on_database) -> None:  # type: ignore[no-untyped-def]
    async def work(engine: AsyncEngine) -> None:
        acme, globex = await _workspace(engine, "acme"), await _workspace(engine, "globex")
        webhook = await _webhook(engine, acme)
        for _ in range(5):
            await event_store.publish_batch(engine, [_event(acme)])
        seen, cursor = [], None
        while True:
            page = await delivery_log.list_deliveries(engine, acme, webhook, None, 2, cursor)
            seen += [d.delivery_id for d in page.data]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert len(seen) == len(set(seen)) == 5
        everything = await delivery_log.list_deliveries(engine, acme, webhook, None, 10, None)
        assert seen == [d.delivery_id for d in everything.data]  # newest first, in order
        other = await delivery_log.list_deliveries(engine, globex, webhook, None, 10, None)
        assert other.data == []
        assert await delivery_log.recover_failed(engine, globex, webhook, 0) == 0
        with pytest.raises(InvalidInput):
            await delivery_log.list_deliveries(engine, acme, webhook, None, 2, "not-a-cursor")

    on_database(work)


def test_retention_purges_only_what_is_old_and_finished(on_database) -> None:  # type: ignore[no-untyped-def]
    async def work(engine: AsyncEngine) -> None:
        acme = await _workspace(engine, "acme")
        await _webhook(engine, acme)
        (old_pending,) = await event_store.publish_batch(engine, [_event(acme)])
        (old_done,) = await event_store.publish_batch(engine, [_event(acme, "nobody")])
        purged = await retention.purge_batch(engine, time.time() + 1, 500)
        assert purged.events == 1
        assert await event_store.get_event(engine, acme, old_done.event_id) is None
        assert await event_store.get_event(engine, acme, old_pending.event_id) is not None

    on_database(work)


def test_one_unstorable_outcome_does_not_hold_up_the_batch(on_database) -> None:  # type: ignore[no-untyped-def]
    """The worker splits a batch the database refuses for its data; the row at fault is
    stored with a placeholder, every other row as it was."""
    from hookline.config import Settings
    from hookline.delivery.worker import UNSTORABLE_OUTCOME, DeliveryWorker

    async def work(engine: AsyncEngine) -> None:
        acme = await _workspace(engine, "acme")
        webhook = await _webhook(engine, acme)
        await event_store.publish_batch(engine, [_event(acme) for _ in range(5)])
        claimed = await queue.claim_due(engine, 10, 60, per_webhook=10)
        # Written past the worker's own sanitizing, as a fault elsewhere might.
        batch = [_outcome(c, 200) for c in claimed[:4]]
        batch.append(_outcome(claimed[4], 200, response_excerpt="\x00", error="\ud800"))
        await DeliveryWorker(engine, Settings.checked())._record(batch)
        page = await delivery_log.list_deliveries(engine, acme, webhook, None, 10, None)
        assert [d.status for d in page.data] == ["succeeded"] * 5
        errors = [a.error for d in page.data for a in d.attempts]
        assert errors.count(UNSTORABLE_OUTCOME) == 1
        assert errors.count(None) == 4

    on_database(work)


async def _key_in_a_lookups_cache(
    engine: AsyncEngine, workspace_name: str
) -> tuple[Workspace, CreatedKey, key_store.KeyLookup]:
    """A new integrator key, and a SQLite key lookup that has it cached."""
    workspace = await key_store.create_workspace(engine, workspace_name)
    assert workspace is not None
    created = await key_store.create_key(engine, workspace, Role.INTEGRATOR)
    lookup = key_store.KeyLookup(engine, None, 1.0)
    assert await lookup.authenticate(created.key) is not None  # cached from now on
    return workspace, created, lookup


def test_a_key_revoked_while_the_connection_is_replaced_is_refused(tmp_path: Path) -> None:
    """On SQLite the cached key lookup notices another process's revocation through
    ``PRAGMA data_version``, which counts per connection and starts afresh on a new one:
    a revocation committed while the engine's connection was replaced still empties it."""
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    upgrade_to_head(url)

    async def work() -> None:
        engine, other_process = create_engine(url), create_engine(url)
        try:
            _, created, lookup = await _key_in_a_lookups_cache(engine, "replaced")
            await engine.dispose()  # its connection closes, a new one opens at the next use
            assert await key_store.revoke_key(other_process, created.info.key_id) is not None
            assert await lookup.authenticate(created.key) is None
        finally:
            await engine.dispose()
            await other_process.dispose()

    asyncio.run(work())


async def _deliveries_counts(engine: AsyncEngine, *columns: str) -> tuple[int, ...]:
    """PostgreSQL's counters of ``deliveries`` (columns of pg_stat_user_tables)."""
    async with engine.connect() as conn:
        found = await conn.execute(
            text(
                f"SELECT {', '.join(columns)} FROM pg_stat_user_tables "
                "WHERE relid = 'deliveries'::regclass"
            )
        )
        return tuple(int(value) for value in found.one())


async def _deliveries_counts_once_shown(
    engine: AsyncEngine, at_least: int, *columns: str
) -> tuple[int, ...]:
    """The counters once the first shows ``at_least``: a session reports its changes at
    most once a second, and as it ends."""
    deadline = time.monotonic() + 15
    while (counts := await _deliveries_counts(engine, *columns))[0] < at_least:
        assert time.monotonic() < deadline, "the changes never showed"
        await asyncio.sleep(0.2)
    return counts


def test_a_burst_of_publishes_gets_fresh_planner_statistics(postgres: PostgresCluster) -> None:
    """PostgreSQL: after a burst the worker analyses the tables that changed, where
    autovacuum waits up to a minute, so the planner sizes the queue by what it holds."""
    url = postgres.create_database()
    upgrade_to_head(url)
    # Autovacuum would analyse a table of its own accord, as soon as the burst shows.
    for table in TABLES:
        postgres.psql(f"ALTER TABLE {table} SET (autovacuum_enabled = off)", url.rsplit("/", 1)[1])
    burst = 3000
    observer = f"observer_{uuid.uuid4().hex[:8]}"

    async def planned_rows(engine: AsyncEngine) -> float:
        async with engine.connect() as conn:
            found = await conn.scalar(
                text("SELECT reltuples FROM pg_class WHERE oid = 'deliveries'::regclass")
            )
            return float(found)

    async def shown(engine: AsyncEngine, rows: int) -> None:
        await _deliveries_counts_once_shown(engine, rows, "n_mod_since_analyze")

    async def work() -> None:
        engine = create_engine(url)
        try:
            acme = await _workspace(engine, "acme")
            await _webhook(engine, acme)
            await event_store.publish_batch(engine, [_event(acme)] * burst)
            assert await planned_rows(engine) < burst
            await shown(engine, burst)
            assert "deliveries" in await stale_tables(engine)
            # A role that does not own the tables leaves them alone (ANALYZE would warn).
            postgres.psql(f"CREATE ROLE {observer} LOGIN")
            other = create_engine(url.replace("//postgres@", f"//{observer}@"))
            try:
                assert await stale_tables(other) == []
            finally:
                await other.dispose()
            # Two workers' keepers checking at the same moment: each table analysed once.
            keeper, other_keeper = StatisticsKeeper(engine), StatisticsKeeper(engine)
            both = await asyncio.gather(keeper.refresh_once(), other_keeper.refresh_once())
            analysed = [table for tables in both for table in tables]
            assert {"deliveries", "events"} <= set(analysed)
            assert len(analysed) == len(set(analysed)), both
            assert await planned_rows(engine) == burst
            assert await keeper.refresh_once() == []  # nothing changed since
            # A worker that found the table stale before another analysed it leaves it.
            assert await analyze(engine, "deliveries") is False
            # Past the floor (1,000) but not past it plus a tenth of the table: not yet.
            await event_store.publish_batch(engine, [_event(acme)] * 1100)
            await shown(engine, 1100)
            assert "deliveries" not in await stale_tables(engine)
        finally:
            await engine.dispose()

    asyncio.run(work())


def test_payloads_are_stored_compressed_with_lz4(postgres: PostgresCluster) -> None:
    """PostgreSQL: a payload large enough to be compressed is compressed with lz4, which
    costs the server about a third of pglz's CPU to write and two thirds to read; a server
    built without lz4 keeps its default, pglz."""
    url = postgres.create_database()
    upgrade_to_head(url)
    large = codec.encode({"transcript": [f"answer {n}" for n in range(2000)]})
    assert len(large) > 8 * 1024

    async def work() -> None:
        engine = create_engine(url)
        try:
            acme = await _workspace(engine, "acme")
            await event_store.publish_batch(
                engine, [NewEvent(acme, "interview_started", "p", "i-1", large, None)]
            )
            async with engine.connect() as conn:
                offered = await conn.scalar(
                    text("SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
                         "WHERE name = 'default_toast_compression'")
                )  # fmt: skip
                stored = await conn.execute(
                    text("SELECT pg_column_compression(payload), payload FROM events")
                )
                assert stored.one() == ("lz4" if offered else "pglz", large)
        finally:
            await engine.dispose()

    asyncio.run(work())


def test_a_claims_leases_are_written_beside_their_rows(postgres: PostgresCluster) -> None:
    """PostgreSQL: each lease a claim writes is a heap-only update (no new index entry):
    the deliveries' pages keep room for it."""
    url = postgres.create_database()
    upgrade_to_head(url)
    claimed_count = 200

    async def work() -> None:
        engine = create_engine(url)
        try:
            acme = await _workspace(engine, "acme")
            await _webhook(engine, acme)
            await event_store.publish_batch(engine, [_event(acme)] * claimed_count)
            claimed = await queue.claim_due(
                engine, limit=claimed_count, lease_seconds=60, per_webhook=claimed_count
            )
            assert len(claimed) == claimed_count
        finally:
            await engine.dispose()  # its sessions report their counts as they end
        observer = create_engine(url)
        try:
            counts = await _deliveries_counts_once_shown(
                observer, claimed_count, "n_tup_upd", "n_tup_hot_upd"
            )
            assert counts == (claimed_count, claimed_count)
        finally:
            await observer.dispose()

    asyncio.run(work())


def test_a_published_batch_tells_the_workers_once_when_it_stored_deliveries(
    postgres: PostgresCluster,
) -> None:
    """PostgreSQL publishes a batch as one statement, which NOTIFYs the workers' channel
    itself at commit: once however many deliveries it stored, and not at all when it
    stored none (no webhook matched)."""
    url = postgres.create_database()
    upgrade_to_head(url)

    async def work() -> None:
        engine = create_engine(url)
        listener = await asyncpg.connect(asyncpg_dsn(url))
        heard: list[str] = []
        first = asyncio.Event()

        def hear(*args: object) -> None:
            heard.append(str(args[-1]))
            first.set()

        await listener.add_listener(notify.CHANNEL, hear)
        try:
            acme = await _workspace(engine, "acme")
            await _webhook(engine, acme, "p1")
            await _webhook(engine, acme, "p1")
            nobody = await event_store.publish_batch(engine, [_event(acme, "p2")])
            published = await event_store.publish_batch(engine, [_event(acme, "p1")] * 3)
            assert [p.deliveries for p in nobody + published] == [0, 2, 2, 2]
            await asyncio.wait_for(first.wait(), 5)
            await asyncio.sleep(0.3)  # time for any other notification to arrive
            assert heard == [""]
        finally:
            await listener.close()
            await engine.dispose()

    asyncio.run(work())


def test_a_keys_use_is_noted_once_when_a_burst_crosses_the_minute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Requests racing in when a cached key's last use comes due write it once: the rest
    would otherwise queue on the key row's lock behind that write."""
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    upgrade_to_head(url)
    monkeypatch.setattr(key_store, "LAST_USED_RESOLUTION_SECONDS", 0.2)

    async def work() -> None:
        engine = create_engine(url)
        statements: list[str] = []
        event.listen(
            engine.sync_engine,
            "before_cursor_execute",
            lambda _conn, _cursor, statement, *_: statements.append(statement),
        )
        try:
            workspace, created, lookup = await _key_in_a_lookups_cache(engine, "busy")
            await asyncio.sleep(0.3)
            statements.clear()
            burst = await asyncio.gather(*(lookup.authenticate(created.key) for _ in range(20)))
            assert all(principal is not None for principal in burst)
            notes = [s for s in statements if s.lstrip().upper().startswith("UPDATE API_KEYS")]
            assert len(notes) == 1
            listed = await key_store.list_keys(engine, workspace)
            assert listed[0].last_used_at is not None
            assert time.time() - listed[0].last_used_at < 0.3
        finally:
            await engine.dispose()

    asyncio.run(work())


def test_single_statements_commit_by_themselves_only_where_it_is_safe(
    postgres: PostgresCluster,
) -> None:
    """PostgreSQL without a pooler: the next-due read runs in autocommit (one round trip,
    not BEGIN, the read and COMMIT), and the connection goes back to the pool as it came,
    so a transaction on it is still one. Behind a pooler in transaction mode such reads
    stay in a transaction, which keeps a statement on one server connection from Parse to
    Execute. Two statements in one transaction share its id."""
    url = postgres.create_database()
    transaction_id = text("SELECT txid_current()")

    async def two_ids(conn: AsyncConnection) -> set[int]:
        return {await conn.scalar(transaction_id), await conn.scalar(transaction_id)}

    async def work() -> None:
        for behind_pooler, each_its_own in ((False, True), (True, False)):
            engine = create_engine(url, behind_pooler=behind_pooler)
            try:
                async with single_statements(engine) as conn:
                    assert (len(await two_ids(conn)) == 2) is each_its_own
                async with engine.begin() as conn:  # the same pooled connection, reset
                    assert len(await two_ids(conn)) == 1
            finally:
                await engine.dispose()

    asyncio.run(work())


def test_a_success_ends_a_webhooks_run_of_failures(on_database) -> None:  # type: ignore[no-untyped-def]
    """A failed attempt starts a webhook's run of failures; a 2xx ends it, whether its
    batch had nothing else (on PostgreSQL one statement of its own) or another webhook's
    failure beside it (the transaction that also marks that one failing)."""

    async def work(engine: AsyncEngine) -> None:
        acme = await _workspace(engine, "acme")
        first = await _webhook(engine, acme, posting_id="first")
        second = await _webhook(engine, acme, posting_id="second")

        async def failing_since() -> dict[str, float | None]:
            async with engine.connect() as conn:
                rows = await conn.execute(select(webhooks.c.id, webhooks.c.failing_since))
                return {row.id: row.failing_since for row in rows}

        async def attempt(codes: dict[str, int]) -> None:
            for posting in codes:
                await event_store.publish_batch(engine, [_event(acme, posting_id=posting)])
            claimed = await queue.claim_due(engine, 10, 60, per_webhook=10)
            outcomes = [_outcome(c, codes["first" if c.webhook_id == first else "second"])
                        for c in claimed]  # fmt: skip
            await queue.record_outcomes(engine, outcomes, judge_health(outcomes, time.time(), 3600))

        await attempt({"first": 500, "second": 500})
        assert all(since is not None for since in (await failing_since()).values())
        await attempt({"first": 200})
        assert (await failing_since())[first] is None
        await attempt({"first": 500, "second": 200})
        state = await failing_since()
        assert state[first] is not None and state[second] is None

    on_database(work)


def test_a_last_attempt_that_a_redelivery_overtook_raises_no_delivery_failed(on_database) -> None:  # type: ignore[no-untyped-def]
    """The final attempt fails while a redelivery is being queued: the delivery is pending
    again, not failed, so no delivery_failed event is raised for it (the event is raised
    only for deliveries the record left failed)."""

    async def work(engine: AsyncEngine) -> None:
        acme = await _workspace(engine, "acme")
        await _webhook(engine, acme)
        await event_store.publish_batch(engine, [_event(acme)])
        (claimed,) = await queue.claim_due(engine, 10, 60, per_webhook=5)
        assert (await delivery_log.redeliver(engine, acme, claimed.delivery_id)).found

        last = [_outcome(claimed, 500, new_status=DeliveryStatus.FAILED, next_attempt_at=None)]
        overtaken = await queue.record_outcomes(engine, last, judge_health(last, time.time(), 3600))
        assert overtaken == [claimed.delivery_id]
        async with engine.connect() as conn:
            raised = await conn.scalar(
                text("SELECT count(*) FROM events WHERE event_type = 'delivery_failed'")
            )
            status = await conn.scalar(
                text("SELECT status FROM deliveries WHERE id = :id"), {"id": claimed.delivery_id}
            )
        assert (raised, status) == (0, "pending")

    on_database(work)


def test_a_delivery_cancelled_mid_attempt_stays_cancelled_and_is_not_settled(on_database) -> None:  # type: ignore[no-untyped-def]
    """Deactivating a webhook cancels its deliveries, one in flight included: the attempt's
    200 is logged and counted, the delivery stays cancelled, and the record names it
    among those it did not settle, beside another of the batch that it did."""

    async def work(engine: AsyncEngine) -> None:
        acme = await _workspace(engine, "acme")
        gone, kept = await _webhook(engine, acme), await _webhook(engine, acme, posting_id="q")
        await event_store.publish_batch(engine, [_event(acme), _event(acme, posting_id="q")])
        claimed = await queue.claim_due(engine, 10, 60, per_webhook=5)
        assert {c.webhook_id for c in claimed} == {gone, kept}
        await webhook_store.set_active(engine, acme, gone, active=False)

        outcomes = [_outcome(c, 200) for c in claimed]
        overtaken = await queue.record_outcomes(
            engine, outcomes, judge_health(outcomes, time.time(), 3600)
        )
        assert overtaken == [c.delivery_id for c in claimed if c.webhook_id == gone]
        for webhook, status in ((gone, "cancelled"), (kept, "succeeded")):
            page = await delivery_log.list_deliveries(engine, acme, webhook, None, 10, None)
            (logged,) = page.data
            assert (logged.status, logged.attempt_count) == (status, 1)
            assert [a.status_code for a in logged.attempts] == [200]

    on_database(work)


def test_a_stop_waits_for_the_claim_in_flight_and_releases_what_it_took(
    postgres: PostgresCluster, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL's claim commits by itself: a worker stopping in the middle of one does
    not cancel it (cut short after its UPDATE, it would leave leases nobody holds), it
    waits for it and releases what it took, unsent."""
    from hookline.config import Settings
    from hookline.delivery.worker import DeliveryWorker

    url = postgres.create_database()
    upgrade_to_head(url)

    async def work() -> None:
        engine = create_engine(url)
        blocker = await asyncpg.connect(asyncpg_dsn(url))
        try:
            acme = await _workspace(engine, "acme")
            await _webhook(engine, acme)
            await event_store.publish_batch(engine, [_event(acme) for _ in range(5)])
            holding = blocker.transaction()
            await holding.start()
            await blocker.execute("LOCK TABLE deliveries IN SHARE MODE")  # the claim waits
            worker = DeliveryWorker(engine, Settings.checked())
            await worker.start()
            waiting_claim = (
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE '%locked_until%'"
            )
            for _ in range(200):
                if await blocker.fetchval(waiting_claim):
                    break
                await asyncio.sleep(0.02)
            else:
                raise AssertionError("the worker's claim never reached the lock")
            stopping = asyncio.create_task(worker.stop())
            await asyncio.sleep(0.3)
            assert not stopping.done()  # waiting for the claim, not cancelling it
            await holding.commit()
            with caplog.at_level(logging.INFO, logger="hookline.worker"):
                await asyncio.wait_for(stopping, 10)
            assert "released 5 claimed deliveries" in caplog.text  # taken, then released
            leftover = "SELECT count(*) FROM deliveries WHERE locked_until IS NOT NULL"
            assert await blocker.fetchval(leftover) == 0
            assert await blocker.fetchval("SELECT count(*) FROM attempts") == 0
            assert await blocker.fetchval("SELECT count(*) FROM deliveries") == 5
        finally:
            await blocker.close()
            await engine.dispose()

    asyncio.run(work())


def test_the_payload_cache_counts_a_payload_put_again_once() -> None:
    """A claim returns the payloads of events other than the cache's most recent, which
    the cache may hold all the same: putting one again replaces it and refreshes it."""
    cache = queue.PayloadCache(max_bytes=100)
    cache.put("a", b"x" * 40)
    cache.put("b", b"x" * 40)
    cache.put("a", b"x" * 40)
    assert cache.recent(2) == ["a", "b"]
    cache.put("c", b"x" * 20)  # 100 bytes in all: nothing is dropped
    assert cache.recent(3) == ["c", "a", "b"]
    cache.put("d", b"x" * 10)  # over: the least recently used goes
    assert cache.recent(4) == ["d", "c", "a"]
    assert cache.get("b") is None


def test_the_claim_returns_the_payloads_the_worker_has_not_used_lately(  # type: ignore[no-untyped-def]
    on_database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The claim returns an event's payload unless the event is among those the payload
    cache used last (then the cache's copy is used), and reads it after all when the
    cache lost it meanwhile."""

    async def work(engine: AsyncEngine) -> None:
        acme = await _workspace(engine, "acme")
        await _webhook(engine, acme)
        published = await event_store.publish_batch(
            engine,
            [NewEvent(acme, "interview_started", "p", f"i-{n}", b'{"n":%d}' % n, None)
             for n in (1, 2)],
        )  # fmt: skip
        first, second = (p.event_id for p in published)
        stored = {first: b'{"n":1}', second: b'{"n":2}'}

        async def claim_again() -> dict[str, bytes]:
            claimed = await queue.claim_due(engine, 10, 60, per_webhook=10)
            await queue.release_claims(engine, [c.delivery_id for c in claimed])
            return {c.event_id: c.payload for c in claimed}

        monkeypatch.setattr(queue, "PAYLOADS", queue.PayloadCache(1 << 20))
        assert await claim_again() == stored  # both returned by the claim
        assert set(queue.PAYLOADS.recent(2)) == {first, second}  # both cached

        cache = queue.PayloadCache(1 << 20)
        cache.put(first, b"the cache's copy")
        monkeypatch.setattr(queue, "PAYLOADS", cache)
        # The second counts as recent too, as if evicted during the claim.
        monkeypatch.setattr(cache, "recent", lambda _count: [first, second])
        assert await claim_again() == {first: b"the cache's copy", second: stored[second]}

    on_database(work)
