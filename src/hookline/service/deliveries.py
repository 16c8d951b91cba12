"""The delivery log as integrators see it: pages of deliveries, redelivery, counts."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from hookline.domain.inputs import check_text
from hookline.domain.keys import Permission, Principal
from hookline.domain.webhooks import DeliveryStatus
from hookline.errors import Conflict, NotFound
from hookline.service.store_calls import StoreService
from hookline.service.wakeup import Wakeup
from hookline.service.webhooks import WebhookService
from hookline.store import delivery_log
from hookline.store.delivery_log import MAX_PAGE_SIZE, DeliveryPage

__all__ = ["MAX_PAGE_SIZE", "DeliveryLogService"]


class DeliveryLogService(StoreService):
    def __init__(self, engine: AsyncEngine, webhooks: WebhookService, wake: Wakeup) -> None:
        self._engine = engine
        self._webhooks = webhooks
        self._wake = wake

    async def page(
        self,
        principal: Principal,
        webhook_id: str,
        status: DeliveryStatus | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> DeliveryPage:
        """The webhook's deliveries with every attempt, newest first."""
        await self._webhooks.get(principal, webhook_id)
        return await delivery_log.list_deliveries(
            self._engine, principal.workspace, webhook_id, status, limit, cursor
        )

    async def redeliver(self, principal: Principal, delivery_id: str) -> None:
        """Queue one more attempt now, whatever the delivery's state."""
        principal.require(Permission.MANAGE_WEBHOOKS)
        check_text("delivery_id", delivery_id)
        result = await delivery_log.redeliver(self._engine, principal.workspace, delivery_id)
        if not result.found:
            raise NotFound("delivery not found", code="delivery_not_found")
        if not result.webhook_active:
            raise Conflict(
                "the delivery's webhook is deactivated; activate it first",
                code="webhook_inactive",
            )
        self._wake()

    async def counts(self, principal: Principal) -> dict[str, int]:
        """How many of the workspace's deliveries are in each state."""
        principal.require(Permission.MANAGE_WEBHOOKS)
        return await delivery_log.status_counts(self._engine, principal.workspace)
