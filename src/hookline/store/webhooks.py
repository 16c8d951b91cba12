"""Webhook registrations."""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import Row, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hookline.domain.ids import new_id
from hookline.domain.webhooks import (
    PREVIOUS_SECRET_TTL_SECONDS,
    DeliveryStatus,
    HttpMethod,
    Ordering,
    new_secret,
)
from hookline.store.schema import deliveries, webhooks, workspaces


@dataclass(frozen=True)
class Webhook:
    webhook_id: str
    workspace_id: str
    posting_id: str
    url: str
    event_type: str
    http_method: str
    is_active: bool
    secret: str
    previous_secret: str | None
    previous_secret_expires_at: float | None
    disabled_reason: str | None
    ordering: str
    created_at: float
    updated_at: float

    @classmethod
    def from_row(cls, row: Row) -> Webhook:
        m = row._mapping
        return cls(
            webhook_id=m["id"],
            workspace_id=m["workspace_id"],
            posting_id=m["posting_id"],
            url=m["url"],
            event_type=m["event_type"],
            http_method=m["http_method"],
            is_active=bool(m["is_active"]),
            secret=m["secret"],
            previous_secret=m["previous_secret"],
            previous_secret_expires_at=m["previous_secret_expires_at"],
            disabled_reason=m["disabled_reason"],
            ordering=m["ordering"],
            created_at=m["created_at"],
            updated_at=m["updated_at"],
        )


async def create_webhook(
    engine: AsyncEngine,
    workspace_id: str,
    posting_id: str,
    url: str,
    event_type: str,
    http_method: HttpMethod,
    ordering: Ordering = Ordering.NONE,
) -> Webhook:
    now = time.time()
    values = {
        "id": new_id("webhook"),
        "workspace_id": workspace_id,
        "posting_id": posting_id,
        "url": url,
        "event_type": event_type,
        "http_method": http_method.value,
        "ordering": ordering.value,
        "is_active": True,
        "secret": new_secret(),
        "created_at": now,
        "updated_at": now,
    }
    async with engine.begin() as conn:
        row = (await conn.execute(insert(webhooks).values(values).returning(webhooks))).one()
    return Webhook.from_row(row)


async def _get(conn: AsyncConnection, workspace_id: str, webhook_id: str) -> Webhook | None:
    row = (
        await conn.execute(
            select(webhooks).where(
                webhooks.c.id == webhook_id, webhooks.c.workspace_id == workspace_id
            )
        )
    ).first()
    return None if row is None else Webhook.from_row(row)


async def get_webhook(engine: AsyncEngine, workspace_id: str, webhook_id: str) -> Webhook | None:
    async with engine.connect() as conn:
        return await _get(conn, workspace_id, webhook_id)


async def list_webhooks(
    engine: AsyncEngine,
    workspace_id: str,
    posting_id: str | None = None,
    event_type: str | None = None,
) -> list[Webhook]:
    query = select(webhooks).where(webhooks.c.workspace_id == workspace_id)
    if posting_id is not None:
        query = query.where(webhooks.c.posting_id == posting_id)
    if event_type is not None:
        query = query.where(webhooks.c.event_type == event_type)
    async with engine.connect() as conn:
        rows = (await conn.execute(query.order_by(webhooks.c.created_at, webhooks.c.id))).all()
    return [Webhook.from_row(r) for r in rows]


async def cancel_pending(conn: AsyncConnection, webhook_ids: Collection[str], now: float) -> None:
    """A deactivated webhook gets nothing more: its pending deliveries are cancelled.
    Their leases stay: one in flight, redelivered after a reactivation, waits for the
    attempt's record, which ends the lease, rather than going beside it."""
    await conn.execute(
        update(deliveries)
        .where(
            deliveries.c.webhook_id.in_(webhook_ids),
            deliveries.c.status == DeliveryStatus.PENDING.value,
        )
        .values(status=DeliveryStatus.CANCELLED.value, updated_at=now)
    )


async def set_active(
    engine: AsyncEngine, workspace_id: str, webhook_id: str, active: bool
) -> Webhook | None:
    """Activate or deactivate by hand; deactivating cancels the pending deliveries, and
    activating forgets why Hookline may have disabled the webhook."""
    now = time.time()
    async with engine.begin() as conn:
        result = await conn.execute(
            update(webhooks)
            .where(webhooks.c.id == webhook_id, webhooks.c.workspace_id == workspace_id)
            .values(is_active=active, disabled_reason=None, failing_since=None, updated_at=now)
            .returning(webhooks)
        )
        row = result.first()
        if row is None:
            return None
        if not active:
            await cancel_pending(conn, [webhook_id], now)
    return Webhook.from_row(row)


async def rotate_secret(engine: AsyncEngine, workspace_id: str, webhook_id: str) -> Webhook | None:
    """Give the webhook a new secret; the current one keeps signing for a grace period."""
    now = time.time()
    async with engine.begin() as conn:
        current = await _get(conn, workspace_id, webhook_id)
        if current is None:
            return None
        row = (
            await conn.execute(
                update(webhooks)
                .where(webhooks.c.id == webhook_id)
                .values(
                    secret=new_secret(),
                    previous_secret=current.secret,
                    previous_secret_expires_at=now + PREVIOUS_SECRET_TTL_SECONDS,
                    updated_at=now,
                )
                .returning(webhooks)
            )
        ).one()
    return Webhook.from_row(row)


@dataclass(frozen=True)
class TroubledWebhook:
    workspace: str
    webhook_id: str
    url: str
    is_active: bool
    disabled_reason: str | None
    failing_since: float | None


async def troubled_webhooks(engine: AsyncEngine, limit: int = 200) -> list[TroubledWebhook]:
    """Across every workspace: the webhooks failing now or disabled by Hookline, the
    longest troubled first (for the operator)."""
    query = (
        select(
            workspaces.c.name,
            webhooks.c.id,
            webhooks.c.url,
            webhooks.c.is_active,
            webhooks.c.disabled_reason,
            webhooks.c.failing_since,
        )
        .join(workspaces, workspaces.c.id == webhooks.c.workspace_id)
        .where(webhooks.c.failing_since.is_not(None) | webhooks.c.disabled_reason.is_not(None))
        .order_by(webhooks.c.failing_since, webhooks.c.updated_at)
        .limit(limit)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [TroubledWebhook(*row) for row in rows]
