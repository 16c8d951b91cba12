"""Purging what is older than the retention period, in small batches."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncEngine

from hookline.store.queue import IS_PENDING
from hookline.store.schema import attempts, deliveries, events


@dataclass(frozen=True)
class Purged:
    events: int
    attempts: int


async def purge_batch(engine: AsyncEngine, cutoff: float, batch_size: int) -> Purged:
    """Delete up to ``batch_size`` old attempts, and up to ``batch_size`` old events with
    their deliveries and attempts. An event with a delivery still pending is kept."""
    old_attempts = select(attempts.c.id).where(attempts.c.started_at < cutoff).limit(batch_size)
    has_pending = exists().where(deliveries.c.event_id == events.c.id, IS_PENDING)
    old_events = (
        select(events.c.id).where(events.c.created_at < cutoff, ~has_pending).limit(batch_size)
    )
    async with engine.begin() as conn:
        attempt_ids = (await conn.execute(old_attempts)).scalars().all()
        if attempt_ids:
            await conn.execute(delete(attempts).where(attempts.c.id.in_(attempt_ids)))
        event_ids = (await conn.execute(old_events)).scalars().all()
        if event_ids:
            their_deliveries = select(deliveries.c.id).where(deliveries.c.event_id.in_(event_ids))
            await conn.execute(delete(attempts).where(attempts.c.delivery_id.in_(their_deliveries)))
            await conn.execute(delete(deliveries).where(deliveries.c.event_id.in_(event_ids)))
            await conn.execute(delete(events).where(events.c.id.in_(event_ids)))
    return Purged(events=len(event_ids), attempts=len(attempt_ids))
