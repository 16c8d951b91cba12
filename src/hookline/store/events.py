"""Events and their fan-out into deliveries."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ARRAY,
    Float,
    FromClause,
    Insert,
    Row,
    bindparam,
    case,
    cast,
    column,
    func,
    insert,
    literal,
    null,
    or_,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import ColumnElement, Select

from hookline.domain.events import WILDCARD, encode_payload
from hookline.domain.ids import new_id
from hookline.domain.operational import OperationalEvent
from hookline.domain.webhooks import DeliveryStatus, Ordering
from hookline.store.database import single_statements
from hookline.store.notify import new_work_signal, notify_new_work
from hookline.store.schema import deliveries, events, webhooks
from hookline.store.sql import random_id


@dataclass(frozen=True)
class NewEvent:
    workspace_id: str
    event_type: str
    posting_id: str
    interview_id: str
    payload: bytes
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Published:
    event_id: str
    deliveries: int
    # Set when an earlier publish with the same Idempotency-Key answered: that event's
    # type and payload, for the caller to compare with what was sent this time.
    replay_of: tuple[str, bytes] | None = None

    @property
    def replayed(self) -> bool:
        return self.replay_of is not None


@dataclass(frozen=True)
class DeliveryState:
    delivery_id: str
    webhook_id: str
    status: str
    attempt_count: int
    next_attempt_at: float | None
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class StoredEvent:
    event_id: str
    event_type: str
    posting_id: str
    interview_id: str
    payload: bytes
    idempotency_key: str | None
    created_at: float
    deliveries: list[DeliveryState]


def _event_rows(
    batch: Sequence[NewEvent], event_ids: Sequence[str], now: float
) -> list[dict[str, Any]]:
    """The batch's events as rows to insert."""
    return [
        {
            "id": event_id,
            "workspace_id": event.workspace_id,
            "event_type": event.event_type,
            "posting_id": event.posting_id,
            "interview_id": event.interview_id,
            "payload": event.payload,
            "idempotency_key": event.idempotency_key,
            # A microsecond apart, so that publish order is created_at order, also
            # within a batch (per-interview ordering relies on it).
            "created_at": now + position * 1e-6,
        }
        for position, (event, event_id) in enumerate(zip(batch, event_ids, strict=True))
    ]


async def _insert_events(
    conn: AsyncConnection, batch: Sequence[NewEvent], event_ids: Sequence[str], now: float
) -> list[dict[str, Any]]:
    """Store the batch's events; their rows as inserted."""
    rows = _event_rows(batch, event_ids, now)
    await conn.execute(insert(events), rows)
    return rows


# The columns a publish stores, as _event_rows gives them.
EVENT_COLUMNS = (
    "id",
    "workspace_id",
    "event_type",
    "posting_id",
    "interview_id",
    "payload",
    "idempotency_key",
    "created_at",
)
# The event columns a fan-out reads.
FANNED_OUT = ("id", "workspace_id", "posting_id", "event_type", "interview_id", "created_at")


def _unnested(names: Sequence[str], alias: str) -> FromClause:
    """PostgreSQL: rows of the event columns ``names``, each bound as one array, so the
    SQL is the same whatever the batch's size."""
    arrays = [cast(bindparam(name), ARRAY(events.c[name].type)) for name in names]
    return (
        func.unnest(*arrays).table_valued(*(column(name) for name in names)).render_derived(alias)
    )


def _published_events(dialect: str) -> tuple[FromClause, ColumnElement[bool] | None]:
    """Where a fan-out reads the events just stored, and the condition that picks them.
    PostgreSQL: the batch's own columns bound as arrays, so the plan does not depend on
    the events table's statistics (stale after a burst of publishes, when the planner
    took the table for tiny and scanned it whole). SQLite: the stored rows by primary
    key."""
    if dialect == "sqlite":
        return events, events.c.id.in_(bindparam("event_ids", expanding=True))
    return _unnested(FANNED_OUT, "published"), None


def _build_fan_out(dialect: str, to_one_webhook: bool) -> Insert:
    """One delivery per active matching webhook for each event just stored, as one
    INSERT … SELECT … RETURNING, built once. ``to_one_webhook``: only to ``webhook_id``,
    whatever its posting and event type (the test endpoint)."""
    return _fan_out_from(*_published_events(dialect), to_one_webhook)


def _fan_out_from(
    published: FromClause, picked: ColumnElement[bool] | None, to_one_webhook: bool
) -> Insert:
    """The fan-out's INSERT, reading the events from ``published`` (where ``picked``)."""
    event = published.c
    match = (webhooks.c.workspace_id == event.workspace_id) & webhooks.c.is_active.is_(True)
    if to_one_webhook:
        match &= webhooks.c.id == bindparam("webhook_id")
    else:
        for name in ("posting_id", "event_type"):  # equal, or the webhook's "*"
            wanted = webhooks.c[name]
            match &= or_(wanted == event[name], wanted == literal(WILDCARD))
    now = bindparam("now", type_=Float)
    columns = {
        "id": random_id("dlv"),
        "event_id": event.id,
        "webhook_id": webhooks.c.id,
        "workspace_id": webhooks.c.workspace_id,
        "status": literal(DeliveryStatus.PENDING.value),
        "attempt_count": literal(0),
        "next_attempt_at": now,
        "ordering_key": case(
            (webhooks.c.ordering == literal(Ordering.INTERVIEW.value), event.interview_id),
            else_=null(),
        ),
        "created_at": event.created_at,
        "updated_at": now,
    }
    source = select(*columns.values()).select_from(published.join(webhooks, match))
    if picked is not None:
        source = source.where(picked)
    return insert(deliveries).from_select(list(columns), source).returning(deliveries.c.event_id)


FAN_OUT = {
    (dialect, to_one): _build_fan_out(dialect, to_one)
    for dialect in ("sqlite", "postgresql")
    for to_one in (False, True)
}


def _build_publish_postgresql() -> Select:
    """PostgreSQL's publish of a batch as one statement, so one round trip where it may
    commit by itself (instead of BEGIN, the events, the fan-out, NOTIFY and COMMIT): the
    events inserted from arrays, the deliveries fanned out from the rows inserted (a
    CTE's rows, so the plan does not depend on the events table's statistics), and the
    workers told at commit if there is any. One row per delivery: its event's id."""
    stored = (
        insert(events)
        .from_select(EVENT_COLUMNS, select(_unnested(EVENT_COLUMNS, "new_events")))
        .returning(*(events.c[name] for name in FANNED_OUT))
        .cte("stored")
    )
    fanned = _fan_out_from(stored, None, to_one_webhook=False).cte("fanned")
    told = select(new_work_signal()).select_from(fanned).limit(1).scalar_subquery()
    return select(fanned.c.event_id, told)


PUBLISH_POSTGRESQL = _build_publish_postgresql()


async def _fan_out(
    conn: AsyncConnection,
    rows: Sequence[dict[str, Any]],
    now: float,
    webhook_id: str | None = None,
) -> Counter[str]:
    """Create the deliveries of the events just stored (``rows``, as inserted); how many
    each event got."""
    dialect = conn.dialect.name
    params: dict[str, object] = {"now": now}
    if dialect == "sqlite":
        params["event_ids"] = [row["id"] for row in rows]
    else:
        params |= {name: [row[name] for row in rows] for name in FANNED_OUT}
    if webhook_id is not None:
        params["webhook_id"] = webhook_id
    statement = FAN_OUT[dialect, webhook_id is not None]
    counts = Counter((await conn.execute(statement, params)).scalars().all())
    if counts:
        await notify_new_work(conn)
    return counts


async def _find_by_idempotency_key(engine: AsyncEngine, event: NewEvent) -> Published | None:
    query = (
        select(events.c.id, func.count(deliveries.c.id), events.c.event_type, events.c.payload)
        .outerjoin(deliveries, deliveries.c.event_id == events.c.id)
        .where(
            events.c.workspace_id == event.workspace_id,
            events.c.idempotency_key == event.idempotency_key,
        )
        .group_by(events.c.id, events.c.event_type, events.c.payload)
    )
    async with engine.connect() as conn:
        row = (await conn.execute(query)).first()
    return None if row is None else Published(row[0], row[1], replay_of=(row[2], row[3]))


async def publish_batch(engine: AsyncEngine, batch: Sequence[NewEvent]) -> list[Published]:
    """Store events and their deliveries in one transaction: one statement on PostgreSQL,
    two on SQLite, however large the batch. Events with an Idempotency-Key go through
    ``publish``."""
    event_ids = [new_id("evt") for _ in batch]
    now = time.time()
    if engine.dialect.name == "postgresql":
        rows = _event_rows(batch, event_ids, now)
        arrays = {name: [row[name] for row in rows] for name in EVENT_COLUMNS}
        async with single_statements(engine) as conn:
            result = await conn.execute(PUBLISH_POSTGRESQL, arrays | {"now": now})
            counts = Counter(event_id for event_id, _ in result)
    else:
        async with engine.begin() as conn:
            rows = await _insert_events(conn, batch, event_ids, now)
            counts = await _fan_out(conn, rows, now)
    return [Published(event_id, counts[event_id]) for event_id in event_ids]


async def publish_operational(
    conn: AsyncConnection, raised: Sequence[OperationalEvent], now: float
) -> None:
    """Within the caller's transaction: store operational events and fan them out, so
    they are as durable as what raised them."""
    batch = [
        NewEvent(e.workspace_id, e.event_type.value, e.posting_id, e.interview_id,
                 encode_payload(e.payload))
        for e in raised
    ]  # fmt: skip
    event_ids = [new_id("evt") for _ in batch]
    rows = await _insert_events(conn, batch, event_ids, now)
    await _fan_out(conn, rows, now)


async def publish(engine: AsyncEngine, event: NewEvent) -> Published:
    """Store one event and its deliveries in one transaction, honouring its
    Idempotency-Key: a key seen before answers with the first event."""
    if event.idempotency_key is not None:
        earlier = await _find_by_idempotency_key(engine, event)
        if earlier is not None:
            return earlier
    try:
        (published,) = await publish_batch(engine, [event])
    except IntegrityError:
        # A concurrent publish with the same Idempotency-Key won the race.
        earlier = await _find_by_idempotency_key(engine, event) if event.idempotency_key else None
        if earlier is None:
            raise
        return earlier
    return published


async def publish_to_webhook(engine: AsyncEngine, event: NewEvent, webhook_id: str) -> Published:
    """Store an event delivered to one webhook alone, whatever its posting and type."""
    event_id, now = new_id("evt"), time.time()
    async with engine.begin() as conn:
        rows = await _insert_events(conn, [event], [event_id], now)
        counts = await _fan_out(conn, rows, now, webhook_id)
    return Published(event_id, counts[event_id])


async def _with_deliveries(conn: AsyncConnection, rows: Sequence[Row]) -> list[StoredEvent]:
    """The events of ``rows``, each with its deliveries' states, in one more query."""
    delivery_rows = (
        await conn.execute(
            select(deliveries)
            .where(deliveries.c.event_id.in_([r.id for r in rows]))
            .order_by(deliveries.c.created_at, deliveries.c.id)
        )
    ).all()
    by_event: dict[str, list[DeliveryState]] = {}
    for d in delivery_rows:
        by_event.setdefault(d.event_id, []).append(
            DeliveryState(
                d.id,
                d.webhook_id,
                d.status,
                d.attempt_count,
                d.next_attempt_at,
                d.created_at,
                d.updated_at,
            )
        )
    return [
        StoredEvent(
            event_id=row.id,
            event_type=row.event_type,
            posting_id=row.posting_id,
            interview_id=row.interview_id,
            payload=row.payload,
            idempotency_key=row.idempotency_key,
            created_at=row.created_at,
            deliveries=by_event.get(row.id, []),
        )
        for row in rows
    ]


async def get_event(
    engine: AsyncEngine, workspace_id: str | None, event_id: str
) -> StoredEvent | None:
    """The event in ``workspace_id``; in any workspace when None (installation-wide
    keys only: the service decides who gets None)."""
    query = select(events).where(events.c.id == event_id)
    if workspace_id is not None:
        query = query.where(events.c.workspace_id == workspace_id)
    async with engine.connect() as conn:
        row = (await conn.execute(query)).first()
        if row is None:
            return None
        (event,) = await _with_deliveries(conn, [row])
    return event


async def search_events(
    engine: AsyncEngine,
    workspace_id: str,
    interview_id: str | None = None,
    posting_id: str | None = None,
    limit: int = 50,
) -> list[StoredEvent]:
    """The workspace's events, newest first, filtered by interview and posting."""
    query = select(events).where(events.c.workspace_id == workspace_id)
    if interview_id:
        query = query.where(events.c.interview_id == interview_id)
    if posting_id:
        query = query.where(events.c.posting_id == posting_id)
    query = query.order_by(events.c.created_at.desc(), events.c.id.desc()).limit(limit)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
        return await _with_deliveries(conn, rows) if rows else []
