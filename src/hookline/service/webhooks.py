"""Webhooks: registration and its checks, activity, secrets, test events, recovery."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

from hookline.config import Settings
from hookline.delivery.url_safety import UnsafeDestination, check_url
from hookline.domain.events import (
    OPERATIONAL_EVENT_TYPES,
    WILDCARD,
    EventType,
    encode_payload,
    sample_payload,
)
from hookline.domain.inputs import check_id, check_text, normalize_url
from hookline.domain.keys import Permission, Principal
from hookline.domain.webhooks import HttpMethod, Ordering
from hookline.errors import Conflict, InvalidInput, NotFound
from hookline.service.store_calls import StoreService
from hookline.service.wakeup import Wakeup
from hookline.store import delivery_log
from hookline.store import events as event_store
from hookline.store import webhooks as webhook_store
from hookline.store.events import NewEvent, Published
from hookline.store.webhooks import Webhook

__all__ = ["Webhook", "WebhookDraft", "WebhookService"]


@dataclass(frozen=True)
class WebhookDraft:
    """A webhook as the caller asked for it, before the checks."""

    posting_id: str  # or "*": every posting of the workspace
    url: str
    event_type: str  # or "*": every event type, operational ones included
    http_method: str = HttpMethod.POST.value
    ordering: str = Ordering.NONE.value


Choice = TypeVar("Choice", EventType, HttpMethod, Ordering)


def _choice(kind: type[Choice], field: str, value: str) -> Choice:
    try:
        return kind(value.lower() if kind is HttpMethod else value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise InvalidInput.field(field, f"must be one of: {allowed}") from None


def _subscribed_type(value: str) -> str:
    """A webhook's event type: one of the event types, or "*" for all of them."""
    return value if value == WILDCARD else _choice(EventType, "event_type", value).value


class WebhookService(StoreService):
    def __init__(self, engine: AsyncEngine, settings: Settings, wake: Wakeup) -> None:
        self._engine = engine
        self._settings = settings
        self._wake = wake

    async def create(self, principal: Principal, draft: WebhookDraft) -> Webhook:
        principal.require(Permission.MANAGE_WEBHOOKS)
        posting_id = check_id("posting_id", draft.posting_id)
        url = normalize_url("url", draft.url)
        event_type = _subscribed_type(draft.event_type)
        method = _choice(HttpMethod, "http_method", draft.http_method)
        ordering = _choice(Ordering, "ordering", draft.ordering)
        if not self._settings.allow_private_urls:
            try:
                await check_url(url)
            except UnsafeDestination as exc:
                raise InvalidInput.field("url", str(exc)) from None
        return await webhook_store.create_webhook(
            self._engine, principal.workspace, posting_id, url, event_type, method, ordering
        )

    async def get(self, principal: Principal, webhook_id: str) -> Webhook:
        """The caller's webhook; another workspace's is as unknown as a missing one."""
        principal.require(Permission.MANAGE_WEBHOOKS)
        check_text("webhook_id", webhook_id)
        webhook = await webhook_store.get_webhook(self._engine, principal.workspace, webhook_id)
        if webhook is None:
            raise NotFound("webhook not found", code="webhook_not_found")
        return webhook

    async def list(
        self, principal: Principal, posting_id: str | None = None, event_type: str | None = None
    ) -> list[Webhook]:
        principal.require(Permission.MANAGE_WEBHOOKS)
        if posting_id is not None:
            check_id("posting_id", posting_id)
        if event_type is not None:
            event_type = _subscribed_type(event_type)
        return await webhook_store.list_webhooks(
            self._engine, principal.workspace, posting_id, event_type
        )

    async def set_active(self, principal: Principal, webhook_id: str, active: bool) -> Webhook:
        """Deactivating cancels the pending deliveries; activating forgets why Hookline
        may have disabled the webhook."""
        await self.get(principal, webhook_id)
        webhook = await webhook_store.set_active(
            self._engine, principal.workspace, webhook_id, active
        )
        if webhook is None:  # deleted between the two calls
            raise NotFound("webhook not found", code="webhook_not_found")
        return webhook

    async def rotate_secret(self, principal: Principal, webhook_id: str) -> Webhook:
        """A new secret signs from now on; the previous one also signs for 24 hours."""
        await self.get(principal, webhook_id)
        webhook = await webhook_store.rotate_secret(self._engine, principal.workspace, webhook_id)
        if webhook is None:
            raise NotFound("webhook not found", code="webhook_not_found")
        return webhook

    async def active(self, principal: Principal, webhook_id: str) -> Webhook:
        """The caller's webhook, which must be active for what comes next."""
        webhook = await self.get(principal, webhook_id)
        if not webhook.is_active:
            raise Conflict("webhook is deactivated; activate it first", code="webhook_inactive")
        return webhook

    async def send_test_event(self, principal: Principal, webhook_id: str) -> Published:
        """Deliver the example of the webhook's event type (interview_started for "*")
        to that webhook alone, now, with the webhook's posting and a fresh timestamp."""
        webhook = await self.active(principal, webhook_id)
        subscribed = webhook.event_type
        event_type = (
            EventType.INTERVIEW_STARTED if subscribed == WILDCARD else EventType(subscribed)
        )
        payload = sample_payload(event_type)
        if event_type not in OPERATIONAL_EVENT_TYPES:
            posting_id = "test" if webhook.posting_id == WILDCARD else webhook.posting_id
            payload |= {"posting_id": posting_id, "timestamp": time.time()}
        event = NewEvent(
            workspace_id=webhook.workspace_id,
            event_type=event_type.value,
            posting_id=payload["posting_id"],
            interview_id=payload.get("interview_id", ""),
            payload=encode_payload(payload),
        )
        published = await event_store.publish_to_webhook(self._engine, event, webhook_id)
        self._wake()
        return published

    async def recover_failed(self, principal: Principal, webhook_id: str, since: float) -> int:
        """Queue every failed delivery created since ``since`` for a new attempt now;
        how many. After re-activating a webhook, this is how an integrator catches up."""
        if not math.isfinite(since) or since < 0:
            raise InvalidInput.field("since", "must be a finite Unix time, 0 or later")
        await self.active(principal, webhook_id)
        count = await delivery_log.recover_failed(
            self._engine, principal.workspace, webhook_id, since
        )
        if count:
            self._wake()
        return count
