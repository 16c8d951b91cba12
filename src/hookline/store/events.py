"""Events and their fan-out into deliveries."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import func, insert, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hookline.domain.ids import new_id
from hookline.domain.webhooks import DeliveryStatus
from hookline.store.notify import notify_new_work
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
    replayed: bool  # True when an earlier publish with the same Idempotency-Key answered


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


def _delivery_columns(event_id: str, now: float) -> dict:
    return {
        "event_id": literal(event_id),
        "workspace_id": webhooks.c.workspace_id,
        "status": literal(DeliveryStatus.PENDING.value),
        "attempt_count": literal(0),
        "next_attempt_at": literal(now),
        "created_at": literal(now),
        "updated_at": literal(now),
    }


async def _insert_event(conn: AsyncConnection, event: NewEvent, event_id: str, now: float) -> None:
    await conn.execute(
        insert(events).values(
            id=event_id,
            workspace_id=event.workspace_id,
            event_type=event.event_type,
            posting_id=event.posting_id,
            interview_id=event.interview_id,
            payload=event.payload,
            idempotency_key=event.idempotency_key,
            created_at=now,
        )
    )


async def _fan_out(
    conn: AsyncConnection,
    event: NewEvent,
    event_id: str,
    now: float,
    webhook_id: str | None = None,
) -> int:
    """One delivery per active matching webhook, as one INSERT … SELECT.

    With ``webhook_id``, only to that webhook, whatever its posting and event type.
    """
    columns = _delivery_columns(event_id, now)
    source = select(random_id("dlv"), webhooks.c.id, *columns.values()).where(
        webhooks.c.workspace_id == event.workspace_id, webhooks.c.is_active.is_(True)
    )
    if webhook_id is None:
        source = source.where(
            webhooks.c.posting_id == event.posting_id,
            webhooks.c.event_type == event.event_type,
        )
    else:
        source = source.where(webhooks.c.id == webhook_id)
    result = await conn.execute(
        insert(deliveries).from_select(["id", "webhook_id", *columns], source)
    )
    return result.rowcount


async def _find_by_idempotency_key(engine: AsyncEngine, event: NewEvent) -> Published | None:
    query = (
        select(events.c.id, func.count(deliveries.c.id))
        .outerjoin(deliveries, deliveries.c.event_id == events.c.id)
        .where(
            events.c.workspace_id == event.workspace_id,
            events.c.idempotency_key == event.idempotency_key,
        )
        .group_by(events.c.id)
    )
    async with engine.connect() as conn:
        row = (await conn.execute(query)).first()
    return None if row is None else Published(row[0], row[1], replayed=True)


async def publish(engine: AsyncEngine, event: NewEvent) -> Published:
    """Store the event and its deliveries in one transaction."""
    if event.idempotency_key is not None:
        earlier = await _find_by_idempotency_key(engine, event)
        if earlier is not None:
            return earlier
    event_id = new_id("evt")
    now = time.time()
    try:
        async with engine.begin() as conn:
            await _insert_event(conn, event, event_id, now)
            count = await _fan_out(conn, event, event_id, now)
            if count:
                await notify_new_work(conn)
    except IntegrityError:
        # A concurrent publish with the same Idempotency-Key won the race.
        earlier = await _find_by_idempotency_key(engine, event)
        if earlier is None:
            raise
        return earlier
    return Published(event_id, count, replayed=False)


async def publish_to_webhook(engine: AsyncEngine, event: NewEvent, webhook_id: str) -> Published:
    """Store an event delivered to one active webhook only (the test endpoint's sample)."""
    event_id, now = new_id("evt"), time.time()
    async with engine.begin() as conn:
        await _insert_event(conn, event, event_id, now)
        count = await _fan_out(conn, event, event_id, now, webhook_id)
        await notify_new_work(conn)
    return Published(event_id, count, replayed=False)


async def get_event(engine: AsyncEngine, workspace_id: str, event_id: str) -> StoredEvent | None:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(events).where(events.c.id == event_id, events.c.workspace_id == workspace_id)
            )
        ).first()
        if row is None:
            return None
        delivery_rows = (
            await conn.execute(
                select(deliveries)
                .where(deliveries.c.event_id == event_id)
                .order_by(deliveries.c.created_at, deliveries.c.id)
            )
        ).all()
    return StoredEvent(
        event_id=row.id,
        event_type=row.event_type,
        posting_id=row.posting_id,
        interview_id=row.interview_id,
        payload=row.payload,
        idempotency_key=row.idempotency_key,
        created_at=row.created_at,
        deliveries=[
            DeliveryState(
                d.id,
                d.webhook_id,
                d.status,
                d.attempt_count,
                d.next_attempt_at,
                d.created_at,
                d.updated_at,
            )
            for d in delivery_rows
        ],
    )
