"""Events: publishing (validation, idempotency, fan-out, waking the worker) and reading."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from hookline import metrics
from hookline.domain.events import (
    OPERATIONAL_EVENT_TYPES,
    EventType,
    encode_payload,
    validate_payload,
)
from hookline.domain.inputs import MAX_ID_LENGTH, check_id, check_text
from hookline.domain.keys import Permission, Principal
from hookline.errors import Conflict, Forbidden, InvalidInput, NotFound
from hookline.service.store_calls import StoreService
from hookline.service.wakeup import Wakeup
from hookline.store import events as event_store
from hookline.store import keys as key_store
from hookline.store.events import NewEvent, Published, StoredEvent
from hookline.store.group_commit import PublishBatcher

SEARCH_LIMIT = 50


class EventService(StoreService):
    def __init__(self, engine: AsyncEngine, wake: Wakeup) -> None:
        self._engine = engine
        self._wake = wake
        self._batcher = PublishBatcher(engine)

    def start(self) -> None:
        self._batcher.start()

    async def stop(self) -> None:
        await self._batcher.stop()

    async def _workspace_of(self, principal: Principal, workspace: str | None) -> str:
        """Where a publish goes: an installation-wide key names the workspace; a
        workspace's key may name only its own."""
        if workspace is None:
            if principal.installation_wide:
                raise InvalidInput.field("workspace", "is required for an installation-wide key")
            return principal.workspace
        check_text("workspace", workspace, MAX_ID_LENGTH)
        found = await key_store.find_workspace(self._engine, workspace)
        if principal.installation_wide:
            if found is None:
                raise NotFound(f"no workspace named {workspace!r}", code="workspace_not_found")
            return found.workspace_id
        if found is None or found.workspace_id != principal.workspace_id:
            raise Forbidden("this key publishes into its own workspace only")
        return found.workspace_id

    async def publish(
        self,
        principal: Principal,
        event_type: str,
        payload: Any,
        idempotency_key: str | None = None,
        workspace: str | None = None,
    ) -> Published:
        """Store the event and one delivery per matching active webhook, in one
        transaction, before answering. The same Idempotency-Key with the same event
        answers with the first one; with another event it is a Conflict. The payload is
        a value ``decode_json`` made, which held the whole body to the strict JSON rules:
        they are checked there, once."""
        principal.require(Permission.PUBLISH)
        try:
            kind = EventType(event_type)
        except ValueError:
            kind = None
        if kind is None or kind in OPERATIONAL_EVENT_TYPES:
            allowed = ", ".join(t.value for t in EventType if t not in OPERATIONAL_EVENT_TYPES)
            raise InvalidInput.field("event_type", f"must be one of: {allowed}")
        workspace_id = await self._workspace_of(principal, workspace)
        if idempotency_key is not None:
            check_id("Idempotency-Key", idempotency_key)
        validate_payload(kind, payload)
        published = await self._batcher.publish(
            NewEvent(
                workspace_id=workspace_id,
                event_type=kind.value,
                posting_id=check_id("payload.posting_id", payload["posting_id"]),
                interview_id=check_id("payload.interview_id", payload["interview_id"]),
                payload=encode_payload(payload),
                idempotency_key=idempotency_key,
            )
        )
        if published.replay_of is not None:
            earlier_type, earlier_payload = published.replay_of
            if earlier_type != kind.value or json.loads(earlier_payload) != payload:
                raise Conflict(
                    f"Idempotency-Key {idempotency_key!r} was used for event "
                    f"{published.event_id} with another body; use a new key for a new event",
                    code="idempotency_conflict",
                )
            return published
        metrics.EVENTS_PUBLISHED.labels(kind.value).inc()
        if published.deliveries:
            self._wake()
        return published

    async def get(self, principal: Principal, event_id: str) -> StoredEvent:
        principal.require(Permission.READ_EVENTS)
        check_text("event_id", event_id)
        event = await event_store.get_event(self._engine, principal.workspace_id, event_id)
        if event is None:
            raise NotFound("event not found", code="event_not_found")
        return event

    async def search(
        self,
        principal: Principal,
        interview_id: str | None = None,
        posting_id: str | None = None,
    ) -> list[StoredEvent]:
        """The workspace's latest events, newest first, by interview and posting."""
        principal.require(Permission.READ_EVENTS)
        for field, value in (("interview_id", interview_id), ("posting_id", posting_id)):
            if value is not None:
                check_id(field, value)
        return await event_store.search_events(
            self._engine, principal.workspace, interview_id, posting_id, SEARCH_LIMIT
        )
