"""The delivery queue: claiming due deliveries, recording attempts' outcomes, releasing
claims. The worker's side of the deliveries table."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Collection, Iterable, Sequence
from itertools import islice
from typing import Any, NamedTuple

import asyncpg
from sqlalchemy import (
    ARRAY,
    String,
    all_,
    any_,
    bindparam,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    literal_column,
    null,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import ColumnElement, Executable, Select

from hookline.domain import codec, operational
from hookline.domain.attempts import GONE_REASON, AttemptOutcome, HealthDecision
from hookline.domain.operational import OperationalEvent
from hookline.domain.webhooks import DeliveryStatus
from hookline.store.database import (
    asyncpg_checked_out,
    single_statements,
    sqlite3_checked_out,
    sqlite3_of,
)
from hookline.store.events import publish_operational
from hookline.store.faults import is_data_problem
from hookline.store.schema import deliveries, events, webhooks
from hookline.store.webhooks import cancel_pending

log = logging.getLogger("hookline.store")

# Spelled as a literal, not a bound parameter, so SQLite's planner can match the query to
# the partial index on pending deliveries.
IS_PENDING = deliveries.c.status == literal_column("'pending'")


class DataProblem(Exception):
    """The database refused a batch for what it holds (not because it is unreachable):
    retrying the same batch would fail the same way."""


class ClaimedDelivery(NamedTuple):
    """Everything the sender needs for one attempt: a claimed row, kept as a tuple."""

    delivery_id: str
    attempt_count: int
    event_id: str
    event_type: str
    payload: bytes
    webhook_id: str
    url: str
    http_method: str
    secret: str
    previous_secret: str | None
    previous_secret_expires_at: float | None
    created_at: float  # when the event was published
    ordering_key: str | None  # set: it keeps its place in its interview's line
    updated_at: float  # the row's as claimed: a redelivery queued since changes it


def _first_in_line() -> ColumnElement[bool]:
    """Per-interview order: a delivery with an ordering key waits while an earlier one of
    the same interview to the same webhook is pending (in flight or awaiting a retry)."""
    earlier = deliveries.alias("earlier")
    return or_(
        deliveries.c.ordering_key.is_(None),
        ~exists().where(
            earlier.c.webhook_id == deliveries.c.webhook_id,
            earlier.c.ordering_key == deliveries.c.ordering_key,
            earlier.c.status == literal_column("'pending'"),
            earlier.c.created_at < deliveries.c.created_at,
        ),
    )


# PostgreSQL's leases are written in the rows.
LEASE_ENDED = or_(deliveries.c.locked_until.is_(None), deliveries.c.locked_until < bindparam("now"))


def _waiting(unleased: ColumnElement[bool]) -> tuple[ColumnElement[bool], ...]:
    """What a claim may take once it is due: pending, not leased (``unleased``, by the
    backend's leases), and first in its interview's line. The claim and the next-due read
    share it, so a delivery the claim would pass over never counts as due."""
    return IS_PENDING, unleased, _first_in_line()


def _chosen(unleased: ColumnElement[bool], *also: ColumnElement[bool], lock: bool) -> Select:
    """The ids a claim takes: of the first ``limit`` due deliveries not leased already
    (``unleased``) and passing ``also``, in order of due time, all but those past the
    first ``per_webhook`` of a webhook. With ``lock``, those rows are locked, the ones
    another worker has locked skipped. (The worker claims again at once after a claim
    that filled a webhook's share, and passes over a webhook holding more than that: so
    the claim never needs to look past its ``limit`` for the others.)"""
    candidates = (
        select(deliveries.c.id, deliveries.c.webhook_id, deliveries.c.next_attempt_at)
        .where(*_waiting(unleased), deliveries.c.next_attempt_at <= bindparam("now"), *also)
        .order_by(deliveries.c.next_attempt_at)
        .limit(bindparam("limit"))
    )
    if lock:
        candidates = candidates.with_for_update(skip_locked=True)
    scanned = candidates.subquery("candidates")
    ranked = select(
        scanned.c.id,
        func.row_number()
        .over(partition_by=scanned.c.webhook_id, order_by=scanned.c.next_attempt_at)
        .label("rank"),
    ).subquery("ranked")
    return select(ranked.c.id).where(ranked.c.rank <= bindparam("per_webhook"))


CLAIMED_WEBHOOK_COLUMNS = (
    webhooks.c.id,
    webhooks.c.url,
    webhooks.c.http_method,
    webhooks.c.secret,
    webhooks.c.previous_secret,
    webhooks.c.previous_secret_expires_at,
)


def _payload_unless(cached: ColumnElement[bool]) -> ColumnElement[bytes | None]:
    """A claimed row's payload, last; NULL for the events the payload cache holds (a
    fan-out claims one event for many webhooks, over many claims)."""
    return case((cached, null()), else_=events.c.payload)


def _text_array(name: str):  # type: ignore[no-untyped-def]
    """A list of strings bound as one PostgreSQL array: the SQL stays the same text
    whatever the list's length, so asyncpg prepares it once."""
    return cast(bindparam(name), ARRAY(String))


def _build_claim() -> Select:
    """PostgreSQL's claim, in one round trip: the chosen rows' leases written, and their
    rows read with their events' and webhooks' columns, the payload last (NULL for the
    events in ``cached``)."""
    leased = (
        update(deliveries)
        .where(
            deliveries.c.id.in_(
                _chosen(
                    LEASE_ENDED,
                    deliveries.c.webhook_id != all_(_text_array("skip_webhooks")),
                    lock=True,
                ).scalar_subquery()
            )
        )
        .values(locked_until=bindparam("locked_until"))
        .returning(
            deliveries.c.id,
            deliveries.c.attempt_count,
            deliveries.c.event_id,
            deliveries.c.webhook_id,
            deliveries.c.created_at,
            deliveries.c.ordering_key,
            deliveries.c.updated_at,
        )
        .cte("leased")
    )
    return (
        select(
            leased.c.id,
            leased.c.attempt_count,
            events.c.id,
            events.c.event_type,
            *CLAIMED_WEBHOOK_COLUMNS,
            leased.c.created_at,
            leased.c.ordering_key,
            leased.c.updated_at,
            _payload_unless(events.c.id == any_(_text_array("cached"))),
        )
        .join_from(leased, events, events.c.id == leased.c.event_id)
        .join(webhooks, webhooks.c.id == leased.c.webhook_id)
        .order_by(leased.c.created_at)
    )


CLAIM = _build_claim()


def _json_values(name: str):  # type: ignore[no-untyped-def]
    """The strings of a JSON array bound as one parameter: the SQL stays the same text
    whatever the list's length, so SQLite prepares it once."""
    return select(func.json_each(bindparam(name)).table_valued("value").c.value)


def _bound_list(conn: AsyncConnection, values: Collection[str]) -> list[str] | str:
    """A list of strings as ``_text_array`` (PostgreSQL) or ``_json_values`` (SQLite)
    take it."""
    if conn.dialect.name == "postgresql":
        return list(values)
    return _json_list(values)


def _json_list(values: Collection[str]) -> str:
    """A list of strings as one JSON text, as ``_json_values`` reads it."""
    return codec.encode(list(values)).decode()


# SQLite's claim is a read: the leases are this process's, held in memory.
NOT_LEASED_HERE = deliveries.c.id.not_in(_json_values("leased"))
# SQLite's claim: the chosen rows read with their events' and webhooks' columns in one
# statement, the payload last, as PostgreSQL's claim returns them.
SCAN_DUE = (
    select(
        deliveries.c.id,
        deliveries.c.attempt_count,
        events.c.id,
        events.c.event_type,
        *CLAIMED_WEBHOOK_COLUMNS,
        deliveries.c.created_at,
        deliveries.c.ordering_key,
        deliveries.c.updated_at,
        _payload_unless(events.c.id.in_(_json_values("cached"))),
    )
    .join(events, events.c.id == deliveries.c.event_id)
    .join(webhooks, webhooks.c.id == deliveries.c.webhook_id)
    .where(
        deliveries.c.id.in_(
            _chosen(
                NOT_LEASED_HERE,
                deliveries.c.webhook_id.not_in(_json_values("skip_webhooks")),
                lock=False,
            ).scalar_subquery()
        )
    )
    .order_by(deliveries.c.next_attempt_at)
)


class ProcessLeases:
    """SQLite's leases. One process delivers from a SQLite database (the worker holds its
    SingleWorkerLock), so its leases need not be written: they are kept here, a claim is a
    read, and no commit rewrites the pages that recording the outcome writes again. A
    process that dies loses them, as the next one's start released written leases anyway."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}  # delivery id: when its lease ends

    def held(self, now: float) -> list[str]:
        expired = [delivery_id for delivery_id, until in self._until.items() if until <= now]
        for delivery_id in expired:
            del self._until[delivery_id]
        return list(self._until)

    def take(self, delivery_ids: Collection[str], until: float) -> None:
        self._until.update(dict.fromkeys(delivery_ids, until))

    def drop(self, delivery_ids: Collection[str] | None) -> int:
        """End the given leases, or all; how many there were."""
        if delivery_ids is None:
            count = len(self._until)
            self._until.clear()
            return count
        return sum(self._until.pop(i, None) is not None for i in delivery_ids)


_PROCESS_LEASES: dict[str, ProcessLeases] = {}


def process_leases(engine: AsyncEngine) -> ProcessLeases | None:
    """This process's leases on the engine's SQLite database; None on PostgreSQL."""
    if engine.dialect.name != "sqlite":
        return None
    return _PROCESS_LEASES.setdefault(str(engine.url.database), ProcessLeases())


class DriverStatement(NamedTuple):
    """A statement compiled once into the driver's own SQL (sqlite3's, or asyncpg's), run
    with its parameters as a tuple: SQLAlchemy's per-execution work (its statement cache,
    each parameter's processing, a row object per row) cost as much as SQLite's query, and
    a quarter of a PostgreSQL worker's claim."""

    sql: str
    names: tuple[str, ...]
    fixed: dict[str, Any]  # parameters the statement sets itself (a LIMIT's OFFSET 0)

    @classmethod
    def compile(cls, statement: Executable, dialect: Dialect | None = None) -> DriverStatement:
        compiled = statement.compile(dialect=dialect or sqlite.dialect())
        fixed = {name: value for name, value in compiled.params.items() if value is not None}
        return cls(str(compiled), tuple(compiled.positiontup or ()), fixed)

    def bind(self, **values: Any) -> tuple[Any, ...]:
        values |= self.fixed
        return tuple(values[name] for name in self.names)


SCAN_DUE_SQL = DriverStatement.compile(SCAN_DUE)
ASYNCPG = asyncpg_dialect.dialect()
CLAIM_SQL = DriverStatement.compile(CLAIM, ASYNCPG)
LOAD_PAYLOADS_POSTGRESQL_SQL = DriverStatement.compile(
    select(events.c.id, events.c.payload).where(events.c.id == any_(_text_array("event_ids"))),
    ASYNCPG,
)
LOAD_PAYLOADS_SQL = DriverStatement.compile(
    select(events.c.id, events.c.payload).where(events.c.id.in_(_json_values("event_ids")))
)


# SQLite's; PostgreSQL's is part of RECORD_FROM_ARRAYS. The ids bound as one JSON list:
# every batch with a success runs it.
STOP_FAILING_ROWS = (
    "UPDATE webhooks SET failing_since = NULL "
    "WHERE id IN (SELECT value FROM json_each(?)) AND failing_since IS NOT NULL"
)


class PayloadCache:
    """Events' payloads by event id, least recently used out past ``max_bytes``. An
    event's payload never changes, and a fan-out claims the same event for many webhooks
    over many claims: each is read from the database once, not once per delivery."""

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._payloads: OrderedDict[str, bytes] = OrderedDict()

    def get(self, event_id: str) -> bytes | None:
        payload = self._payloads.get(event_id)
        if payload is not None:
            self._payloads.move_to_end(event_id)
        return payload

    def recent(self, count: int) -> list[str]:
        """The ids of the ``count`` payloads used last."""
        return list(islice(reversed(self._payloads), count))

    def put(self, event_id: str, payload: bytes) -> None:
        previous = self._payloads.pop(event_id, None)  # a claim may return a cached one
        if previous is not None:
            self._bytes -= len(previous)
        self._payloads[event_id] = payload
        self._bytes += len(payload)
        while self._bytes > self._max_bytes and len(self._payloads) > 1:
            _, dropped = self._payloads.popitem(last=False)
            self._bytes -= len(dropped)


PAYLOADS = PayloadCache(max_bytes=16 * 1024 * 1024)


# The payload cache's most recently used events, whose payloads a claim need not return:
# a fan-out claims one event for many webhooks over a run of claims.
RECENTLY_CACHED = 32


async def claim_due(
    engine: AsyncEngine,
    limit: int,
    lease_seconds: float,
    per_webhook: int,
    skip_webhooks: Collection[str] = (),
) -> list[ClaimedDelivery]:
    """Lease the first ``limit`` due deliveries to this worker but those past the first
    ``per_webhook`` of a webhook, and none of ``skip_webhooks`` (those this worker already
    keeps busy), so a slow endpoint's backlog cannot fill the worker. One statement takes
    them, with their payloads but those cached: on PostgreSQL it writes the leases too,
    on SQLite it is a read (the leases are this process's). Then one more read, for the
    payloads neither that statement nor the cache had."""
    now = time.time()
    cached = PAYLOADS.recent(RECENTLY_CACHED)
    leases = process_leases(engine)
    if leases is None:
        # PostgreSQL: run on asyncpg itself, which commits by itself where it may (one
        # round trip). A stopping worker waits for a claim in flight rather than
        # cancelling it (up to the database timeout). Should it be cancelled after all,
        # or the read of a payload missing from both the claim and the cache fail, the
        # leases it wrote run out and the deliveries are claimed again: late, never lost.
        bound = CLAIM_SQL.bind(
            now=now,
            skip_webhooks=list(skip_webhooks),
            per_webhook=per_webhook,
            limit=limit,
            locked_until=now + lease_seconds,
            cached=cached,
        )
        async with asyncpg_checked_out(engine) as connection:
            rows = await connection.fetch(CLAIM_SQL.sql, *bound)
            payloads, missing = _known_payloads(rows)
            if missing:
                _cache_read(
                    payloads, await connection.fetch(LOAD_PAYLOADS_POSTGRESQL_SQL.sql, missing)
                )
    else:
        # SQLite: the leases taken in this process's memory; nothing awaits from the
        # scan to the leases, so the next claim skips these.
        async with sqlite3_checked_out(engine) as connection:
            bound = SCAN_DUE_SQL.bind(
                now=now,
                leased=_json_list(leases.held(now)),
                skip_webhooks=_json_list(skip_webhooks),
                per_webhook=per_webhook,
                limit=limit,
                cached=_json_list(cached),
            )
            rows = connection.execute(SCAN_DUE_SQL.sql, bound).fetchall()
            payloads, missing = _known_payloads(rows)
            if missing:
                found = connection.execute(LOAD_PAYLOADS_SQL.sql, (_json_list(missing),))
                _cache_read(payloads, found)
            leases.take([row[0] for row in rows], now + lease_seconds)
    return [ClaimedDelivery(r[0], r[1], r[2], r[3], payloads[r[2]], *r[4:-1]) for r in rows]


def _known_payloads(rows: Sequence[Any]) -> tuple[dict[str, bytes], list[str]]:
    """The claimed rows' payloads by event id: those the claim returned (its rows' last
    column; cached from now on), else the cached ones; and the ids of the events neither
    had."""
    payloads: dict[str, bytes] = {}
    missing: dict[str, None] = {}  # in order, once each
    for row in rows:
        event_id, payload = row[2], row[-1]
        if event_id in payloads or event_id in missing:
            continue
        if payload is None:
            payload = PAYLOADS.get(event_id)
        else:
            PAYLOADS.put(event_id, payload)
        if payload is None:
            missing[event_id] = None
        else:
            payloads[event_id] = payload
    return payloads, list(missing)


def _cache_read(payloads: dict[str, bytes], found: Iterable[tuple[str, bytes]]) -> None:
    """The payloads read apart into ``payloads``, and cached from now on."""
    for event_id, payload in found:
        payloads[event_id] = payload
        PAYLOADS.put(event_id, payload)


async def record_outcomes(
    engine: AsyncEngine, outcomes: Sequence[AttemptOutcome], health: HealthDecision
) -> list[str]:
    """Write a batch of attempts, the deliveries' new states and their webhooks' health in
    one transaction, each as one statement. A batch in which nothing failed (the common
    one) is a single statement on PostgreSQL, run on asyncpg itself: where it may, it
    commits by itself, one round trip instead of three; on SQLite, it is written on the
    sqlite3 connection itself.

    A delivery cancelled, or queued again by a redelivery, while its attempt was in
    flight keeps that state: the attempt is logged and counted, its lease ended. Returns
    the ids of those the outcome did not settle that way: not finished, and if queued
    again, due now, which no claim saw while they were leased.
    """
    if not outcomes:
        return []
    now = time.time()
    try:
        if not _nothing_failed(outcomes, health):
            overtaken = await _record_with_health(engine, outcomes, health, now)
        elif engine.dialect.name == "postgresql":
            bound = RECORD_SQL.bind(**_as_arrays(outcomes, health.recovered, now))
            async with asyncpg_checked_out(engine) as connection:
                overtaken = [row[0] for row in await connection.fetch(RECORD_SQL.sql, *bound)]
        else:
            async with sqlite3_checked_out(engine) as connection:
                overtaken = _record_as_rows(connection, outcomes, health.recovered, now)
                connection.commit()
    except (DBAPIError, asyncpg.PostgresError, sqlite3.Error, UnicodeError) as exc:
        if not is_data_problem(exc):
            raise
        raise DataProblem(f"{type(exc).__name__} recording {len(outcomes)} outcomes") from exc
    leases = process_leases(engine)
    if leases is not None:
        leases.drop([o.delivery_id for o in outcomes])
    return overtaken


def _nothing_failed(outcomes: Sequence[AttemptOutcome], health: HealthDecision) -> bool:
    """No webhook starts failing or is gone, no delivery ran out of attempts: the batch
    changes no health and raises no operational event."""
    return (
        not health.failing_since
        and not health.gone
        and all(o.new_status is not DeliveryStatus.FAILED for o in outcomes)
    )


async def _record_with_health(
    engine: AsyncEngine, outcomes: Sequence[AttemptOutcome], health: HealthDecision, now: float
) -> list[str]:
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            arrays = _as_arrays(outcomes, health.recovered, now)
            overtaken = list((await conn.execute(RECORD_FROM_ARRAYS, arrays)).scalars())
        else:  # in SQLAlchemy's transaction, which is the sqlite3 connection's own
            overtaken = _record_as_rows(await sqlite3_of(conn), outcomes, health.recovered, now)
        disabled = await _apply_health(conn, health, now)
        # Only a webhook disabled over the platform's own events is announced.
        announced = {
            o.webhook_id for o in outcomes if operational.may_raise_operational_events(o.event_type)
        }
        raised = [e for e in disabled if e.payload["webhook_id"] in announced]
        raised += await _delivery_failed_events(conn, outcomes)
        if raised:
            await publish_operational(conn, raised, now)
    return overtaken


def _record_as_rows(
    connection: sqlite3.Connection,
    outcomes: Sequence[AttemptOutcome],
    recovered: Collection[str],
    now: float,
) -> list[str]:
    """SQLite: the batch's statements on the sqlite3 connection, in the transaction open
    on it (begun by the first write); SQLAlchemy's work per statement cost more than
    SQLite's. Returns the ids of the deliveries the outcome did not settle."""
    rows = codec.encode(
        [
            (
                o.delivery_id,
                o.attempt_number,
                o.started_at,
                o.duration_ms,
                o.status_code,
                o.response_excerpt,
                o.error,
                o.new_status.value,
                o.next_attempt_at,
                *o.claimed_updated_at.as_integer_ratio(),
            )
            for o in outcomes
        ]
    ).decode()
    connection.execute(INSERT_ATTEMPTS, (rows,))
    finished = connection.execute(SET_STATES, (now, rows)).rowcount
    overtaken: list[str] = []
    if finished < len(outcomes):  # the rare batch: one was cancelled or redelivered
        counted = [(o.attempt_number, o.delivery_id, now) for o in outcomes]
        connection.executemany(COUNT_OVERTAKEN_ROW, counted)
        ids = _json_list([o.delivery_id for o in outcomes])
        overtaken = [row[0] for row in connection.execute(OVERTAKEN_ROWS, (ids, now))]
    if recovered:
        connection.execute(STOP_FAILING_ROWS, (_json_list(recovered),))
    return overtaken


# SQLite's record takes the outcomes as one JSON array of rows, each statement run once
# for the batch: each row an executemany runs releases the interpreter's lock and takes
# it again, a hand-over to the sender's thread each time that thread waits for it.
INSERT_ATTEMPTS = (
    "INSERT INTO attempts (delivery_id, attempt_number, started_at, duration_ms, "
    "status_code, response_excerpt, error) "
    "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), "
    "json_extract(value, '$[2]'), json_extract(value, '$[3]'), json_extract(value, '$[4]'), "
    "json_extract(value, '$[5]'), json_extract(value, '$[6]') FROM json_each(?)"
)
# The outcome sets the state of a delivery unchanged since its claim (its updated_at as
# claimed). SQLite has one writer, so the rest can be found after, by their updated_at
# not being this record's: cancelled or redelivered while in flight, they keep that
# state, and only count the attempt. The claimed updated_at must match exactly, and
# SQLite 3.40's reading of a decimal is not always the same double: so it comes as the
# integers of its ratio (a power of two below), whose quotient is exactly that double.
# (next_attempt_at may be read a unit in the last place off: it is only a due time.)
SET_STATES = (
    "UPDATE deliveries SET status = json_extract(outcome.value, '$[7]'), "
    "attempt_count = json_extract(outcome.value, '$[1]'), "
    "next_attempt_at = json_extract(outcome.value, '$[8]'), "
    "locked_until = NULL, updated_at = ? "
    "FROM json_each(?) AS outcome "
    "WHERE deliveries.id = json_extract(outcome.value, '$[0]') "
    "AND deliveries.status = 'pending' "
    "AND deliveries.updated_at = CAST(json_extract(outcome.value, '$[9]') AS REAL) "
    "/ json_extract(outcome.value, '$[10]')"
)
COUNT_OVERTAKEN_ROW = (
    "UPDATE deliveries SET attempt_count = ?, locked_until = NULL WHERE id = ? AND updated_at <> ?"
)
OVERTAKEN_ROWS = (
    "SELECT id FROM deliveries WHERE id IN (SELECT value FROM json_each(?)) AND updated_at <> ?"
)


def _as_arrays(
    outcomes: Sequence[AttemptOutcome], recovered: Collection[str], now: float
) -> dict[str, Any]:
    """PostgreSQL: RECORD_FROM_ARRAYS' parameters, the batch's columns as arrays. Attempts,
    states and the webhooks that answered 2xx are written by one statement for the whole
    batch (``unnest``): one round trip, no per-row bind and execute, and the SQL never
    changes. The statement returns the ids of the deliveries the outcome did not settle."""
    columns = dict(zip(AttemptOutcome._fields, map(list, zip(*outcomes, strict=True)), strict=True))
    return {
        "ids": columns["delivery_id"],
        "attempt_numbers": columns["attempt_number"],
        "started_ats": columns["started_at"],
        "durations": columns["duration_ms"],
        "status_codes": columns["status_code"],
        "excerpts": columns["response_excerpt"],
        "errors": columns["error"],
        "statuses": [status.value for status in columns["new_status"]],
        "next_attempts": columns["next_attempt_at"],
        "claimed_updated_ats": columns["claimed_updated_at"],
        "now": now,
        "recovered": list(recovered),
    }


# Unlike SET_STATES and COUNT_OVERTAKEN_ROW, one UPDATE: under PostgreSQL's concurrent writers
# a redelivery committed while the statement runs is seen by each row's re-check of the
# whole SET (a second UPDATE for the rest would judge them on the statement's snapshot).
_UNCHANGED = "deliveries.status = 'pending' AND deliveries.updated_at = batch.claimed_updated_at"
RECORD_FROM_ARRAYS = text(
    "WITH batch AS (SELECT * FROM unnest("
    "CAST(:ids AS varchar[]), CAST(:attempt_numbers AS int[]), "
    "CAST(:started_ats AS float8[]), CAST(:durations AS float8[]), "
    "CAST(:status_codes AS int[]), CAST(:excerpts AS text[]), CAST(:errors AS text[]), "
    "CAST(:statuses AS varchar[]), CAST(:next_attempts AS float8[]), "
    "CAST(:claimed_updated_ats AS float8[])) "
    "AS b(id, attempt_number, started_at, duration_ms, status_code, response_excerpt, "
    "error, status, next_attempt_at, claimed_updated_at)), "
    "logged AS (INSERT INTO attempts (delivery_id, attempt_number, started_at, duration_ms, "
    "status_code, response_excerpt, error) SELECT id, attempt_number, started_at, "
    "duration_ms, status_code, response_excerpt, error FROM batch), "
    # Webhooks that answered 2xx are no longer failing.
    "recovered AS (UPDATE webhooks SET failing_since = NULL "
    "WHERE id = ANY(CAST(:recovered AS varchar[])) AND failing_since IS NOT NULL), "
    f"recorded AS (UPDATE deliveries SET attempt_count = batch.attempt_number, "
    f"locked_until = NULL, "
    f"status = CASE WHEN {_UNCHANGED} THEN batch.status ELSE deliveries.status END, "
    f"next_attempt_at = CASE WHEN {_UNCHANGED} THEN batch.next_attempt_at "
    "ELSE deliveries.next_attempt_at END, "
    f"updated_at = CASE WHEN {_UNCHANGED} THEN :now ELSE deliveries.updated_at END "
    "FROM batch WHERE deliveries.id = batch.id "
    "RETURNING deliveries.id, deliveries.updated_at <> :now AS overtaken) "
    "SELECT id FROM recorded WHERE overtaken"
)


RECORD_SQL = DriverStatement.compile(RECORD_FROM_ARRAYS, ASYNCPG)


async def _apply_health(
    conn: AsyncConnection, health: HealthDecision, now: float
) -> list[OperationalEvent]:
    """Apply the rest of the domain's verdict (recovered webhooks were written with the
    batch): failing ones start failing, and those gone or failing too long are disabled
    with the reason; a webhook_disabled event for each disabled."""
    disabled: list[OperationalEvent] = []
    if health.failing_since:
        await conn.execute(
            update(webhooks)
            .where(webhooks.c.id == bindparam("b_id"), webhooks.c.failing_since.is_(None))
            .values(failing_since=bindparam("b_since")),
            [{"b_id": w, "b_since": since} for w, since in health.failing_since.items()],
        )
        failing_too_long = webhooks.c.id.in_(health.failing_since) & (
            webhooks.c.failing_since <= health.disable_failing_before
        )
        disabled += await _disable(conn, failing_too_long, health.failing_reason, now)
    if health.gone:
        disabled += await _disable(conn, webhooks.c.id.in_(health.gone), GONE_REASON, now)
    return disabled


async def _disable(
    conn: AsyncConnection, which: ColumnElement[bool], reason: str, now: float
) -> list[OperationalEvent]:
    rows = (
        await conn.execute(
            update(webhooks)
            .where(which, webhooks.c.is_active.is_(True))
            .values(is_active=False, disabled_reason=reason, updated_at=now)
            .returning(
                webhooks.c.id,
                webhooks.c.workspace_id,
                webhooks.c.posting_id,
                webhooks.c.url,
                webhooks.c.event_type,
            )
        )
    ).all()
    if not rows:
        return []
    log.warning("disabled webhooks %s: %s", ", ".join(r.id for r in rows), reason)
    await cancel_pending(conn, [r.id for r in rows], now)
    return [
        operational.webhook_disabled(
            r.workspace_id, r.id, r.posting_id, r.url, r.event_type, reason, now
        )
        for r in rows
    ]


FAILED_DELIVERIES = (
    select(
        deliveries.c.id,
        deliveries.c.workspace_id,
        events.c.id.label("event_id"),
        events.c.event_type,
        events.c.interview_id,
        webhooks.c.id.label("webhook_id"),
        webhooks.c.posting_id,
    )
    .join(events, events.c.id == deliveries.c.event_id)
    .join(webhooks, webhooks.c.id == deliveries.c.webhook_id)
    .where(
        deliveries.c.id.in_(bindparam("ids", expanding=True)),
        deliveries.c.status == literal_column("'failed'"),
    )
)


async def _delivery_failed_events(
    conn: AsyncConnection, outcomes: Sequence[AttemptOutcome]
) -> list[OperationalEvent]:
    """A delivery_failed event for each delivery of the platform's events that has just
    exhausted its retries."""
    failed = {
        o.delivery_id: o
        for o in outcomes
        if o.new_status is DeliveryStatus.FAILED
        and operational.may_raise_operational_events(o.event_type)
    }
    if not failed:
        return []
    rows = (await conn.execute(FAILED_DELIVERIES, {"ids": list(failed)})).all()
    return [
        operational.delivery_failed(
            r.workspace_id,
            delivery_id=r.id,
            event_id=r.event_id,
            webhook_id=r.webhook_id,
            event_type=r.event_type,
            interview_id=r.interview_id,
            posting_id=r.posting_id,
            attempts=failed[r.id].attempt_number,
            last_status_code=failed[r.id].status_code,
            last_error=failed[r.id].error,
            failed_at=failed[r.id].started_at + failed[r.id].duration_ms / 1000,
        )
        for r in rows
    ]


async def release_claims(engine: AsyncEngine, delivery_ids: Collection[str] | None = None) -> int:
    """Drop leases so other workers may claim the deliveries at once: the given ones (a
    worker stopping before it sent them), or all (a single SQLite process starting up,
    for which every lease left is a dead run's)."""
    leases = process_leases(engine)
    if leases is not None:
        return leases.drop(delivery_ids)
    query = update(deliveries).where(IS_PENDING, deliveries.c.locked_until.is_not(None))
    if delivery_ids is not None:
        if not delivery_ids:
            return 0
        query = query.where(deliveries.c.id.in_(delivery_ids))
    async with engine.begin() as conn:
        result = await conn.execute(query.values(locked_until=None))
    return result.rowcount


async def next_due_at(engine: AsyncEngine) -> float | None:
    """When the earliest unclaimed pending delivery falls due."""
    leases = process_leases(engine)
    async with single_statements(engine) as conn:
        if leases is None:
            return await conn.scalar(NEXT_DUE, {"now": time.time()})
        return await conn.scalar(
            NEXT_DUE_UNLEASED, {"leased": _bound_list(conn, leases.held(time.time()))}
        )


# A delivery waiting behind an earlier one of its interview is not due, however old, or
# the claim loop would wake for it at once, over and over, until that one's retry.
NEXT_DUE = select(func.min(deliveries.c.next_attempt_at)).where(*_waiting(LEASE_ENDED))
NEXT_DUE_UNLEASED = select(func.min(deliveries.c.next_attempt_at)).where(*_waiting(NOT_LEASED_HERE))


async def backlog(engine: AsyncEngine, now: float) -> tuple[int, int, float | None]:
    """Pending deliveries, how many of them are due, and when the oldest due one fell due."""
    due = deliveries.c.next_attempt_at <= now
    query = select(
        func.count(),
        func.count().filter(due),
        func.min(deliveries.c.next_attempt_at).filter(due),
    ).where(IS_PENDING)
    async with engine.connect() as conn:
        pending, due_count, oldest = (await conn.execute(query)).one()
    return pending, due_count, oldest


async def add_pending_deliveries(
    engine: AsyncEngine, event_id: str, webhook_id: str, count: int, id_prefix: str
) -> None:
    """Create ``count`` pending deliveries of one event to one webhook, due now, with ids
    ``{id_prefix}1`` … in one INSERT … SELECT, then refresh the planner's statistics: a
    backlog for benchmarks and load tests, where publishing each one would make the set-up,
    not the drain, the thing measured."""
    now = time.time()
    async with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            numbers = select(literal(1).label("x")).cte("numbers", recursive=True)
            numbers = numbers.union_all(select(numbers.c.x + 1).where(numbers.c.x < count))
            x = numbers.c.x
        else:
            numbers = select(func.generate_series(1, count).label("x")).subquery("numbers")
            x = numbers.c.x
        workspace = (
            select(webhooks.c.workspace_id).where(webhooks.c.id == webhook_id).scalar_subquery()
        )
        rows = select(
            literal(id_prefix) + cast(x, String),
            literal(event_id),
            literal(webhook_id),
            workspace,
            literal("pending"),
            literal(0),
            literal(now),
            literal(now),
            literal(now),
        ).select_from(numbers)
        columns = [
            "id",
            "event_id",
            "webhook_id",
            "workspace_id",
            "status",
            "attempt_count",
            "next_attempt_at",
            "created_at",
            "updated_at",
        ]
        await conn.execute(insert(deliveries).from_select(columns, rows))
        await conn.execute(text("ANALYZE deliveries"))
