"""The delivery log: a webhook's deliveries with their attempts, page by page, and what
an integrator may do with them (redeliver, recover). Every function takes the caller's
workspace and reads or changes nothing outside it."""

from __future__ import annotations

import base64
import math
import time
from dataclasses import dataclass

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from hookline.domain.inputs import text_problem
from hookline.domain.webhooks import DeliveryStatus
from hookline.errors import InvalidInput
from hookline.store.notify import notify_new_work
from hookline.store.schema import attempts, deliveries, events, webhooks

MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class Attempt:
    attempt_number: int
    started_at: float
    duration_ms: float
    status_code: int | None
    response_excerpt: str | None
    error: str | None


@dataclass(frozen=True)
class DeliveryLog:
    delivery_id: str
    event_id: str
    event_type: str
    webhook_id: str
    status: str
    attempt_count: int
    next_attempt_at: float | None
    created_at: float
    updated_at: float
    attempts: list[Attempt]


@dataclass(frozen=True)
class DeliveryPage:
    data: list[DeliveryLog]
    next_cursor: str | None


def _encode_cursor(created_at: float, delivery_id: str) -> str:
    return base64.urlsafe_b64encode(f"{created_at!r}|{delivery_id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        created_at, delivery_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        position = float(created_at), delivery_id
    except ValueError:
        position = None
    if position is None or not math.isfinite(position[0]) or text_problem(delivery_id):
        raise InvalidInput.field("cursor", "is not one this API returned")
    return position


async def list_deliveries(
    engine: AsyncEngine,
    workspace_id: str,
    webhook_id: str,
    status: DeliveryStatus | None,
    limit: int,
    cursor: str | None,
) -> DeliveryPage:
    """A webhook's deliveries with their attempts, newest first, one page at a time."""
    query = (
        select(deliveries, events.c.event_type)
        .join(events, events.c.id == deliveries.c.event_id)
        .where(deliveries.c.workspace_id == workspace_id, deliveries.c.webhook_id == webhook_id)
        .order_by(deliveries.c.created_at.desc(), deliveries.c.id.desc())
        .limit(limit + 1)
    )
    if status is not None:
        query = query.where(deliveries.c.status == status.value)
    if cursor is not None:
        created_at, delivery_id = _decode_cursor(cursor)
        query = query.where(
            or_(
                deliveries.c.created_at < created_at,
                (deliveries.c.created_at == created_at) & (deliveries.c.id < delivery_id),
            )
        )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
        page, more = rows[:limit], len(rows) > limit
        attempt_rows = (
            await conn.execute(
                select(attempts)
                .where(attempts.c.delivery_id.in_([r.id for r in page]))
                .order_by(attempts.c.attempt_number.desc(), attempts.c.id.desc())
            )
        ).all()
    by_delivery: dict[str, list[Attempt]] = {}
    for a in attempt_rows:
        by_delivery.setdefault(a.delivery_id, []).append(
            Attempt(
                a.attempt_number,
                a.started_at,
                a.duration_ms,
                a.status_code,
                a.response_excerpt,
                a.error,
            )
        )
    data = [
        DeliveryLog(
            delivery_id=r.id,
            event_id=r.event_id,
            event_type=r.event_type,
            webhook_id=r.webhook_id,
            status=r.status,
            attempt_count=r.attempt_count,
            next_attempt_at=r.next_attempt_at,
            created_at=r.created_at,
            updated_at=r.updated_at,
            attempts=by_delivery.get(r.id, []),
        )
        for r in page
    ]
    next_cursor = _encode_cursor(page[-1].created_at, page[-1].id) if more else None
    return DeliveryPage(data, next_cursor)


@dataclass(frozen=True)
class RedeliverResult:
    found: bool
    webhook_active: bool


def _queued_again(now: float) -> dict[str, object]:
    """A delivery's columns queued for one more attempt now. Its lease is left alone: one
    in flight has its outcome logged, then goes again (the record sees ``updated_at``
    changed since its claim), rather than a second attempt racing the first."""
    return {"status": DeliveryStatus.PENDING.value, "next_attempt_at": now, "updated_at": now}


async def redeliver(engine: AsyncEngine, workspace_id: str, delivery_id: str) -> RedeliverResult:
    """Queue one more attempt now, whatever the delivery's state, if its webhook is active."""
    now = time.time()
    async with engine.begin() as conn:
        row = (
            await conn.execute(
                select(webhooks.c.is_active)
                .join(deliveries, deliveries.c.webhook_id == webhooks.c.id)
                .where(deliveries.c.id == delivery_id, deliveries.c.workspace_id == workspace_id)
            )
        ).first()
        if row is None:
            return RedeliverResult(found=False, webhook_active=False)
        if not row.is_active:
            return RedeliverResult(found=True, webhook_active=False)
        await conn.execute(
            update(deliveries).where(deliveries.c.id == delivery_id).values(_queued_again(now))
        )
        await notify_new_work(conn)
    return RedeliverResult(found=True, webhook_active=True)


async def recover_failed(
    engine: AsyncEngine, workspace_id: str, webhook_id: str, since: float
) -> int:
    """Queue every failed delivery of the webhook created since ``since`` for one more
    attempt now; how many."""
    now = time.time()
    async with engine.begin() as conn:
        result = await conn.execute(
            update(deliveries)
            .where(
                deliveries.c.workspace_id == workspace_id,
                deliveries.c.webhook_id == webhook_id,
                deliveries.c.status == DeliveryStatus.FAILED.value,
                deliveries.c.created_at >= since,
            )
            .values(_queued_again(now))
        )
        if result.rowcount:
            await notify_new_work(conn)
    return result.rowcount


async def status_counts(engine: AsyncEngine, workspace_id: str) -> dict[str, int]:
    """How many of the workspace's deliveries are in each state."""
    query = (
        select(deliveries.c.status, func.count())
        .where(deliveries.c.workspace_id == workspace_id)
        .group_by(deliveries.c.status)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return {status.value: 0 for status in DeliveryStatus} | {row[0]: row[1] for row in rows}
