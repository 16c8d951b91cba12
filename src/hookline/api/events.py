"""``/api/events``: the platform publishes interview events; anyone in the workspace reads them."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from hookline.api.auth import CurrentPrincipal, Publisher
from hookline.api.errors import API_ERRORS, error, validation_response
from hookline.domain.events import (
    EventType,
    PayloadError,
    encode_payload,
    sample_payload,
    validate_payload,
)
from hookline.domain.webhooks import DeliveryStatus
from hookline.metrics import EVENTS_PUBLISHED
from hookline.store import events as event_store

router = APIRouter(prefix="/api/events", tags=["events"], responses=API_ERRORS)
MAX_IDEMPOTENCY_KEY_LENGTH = 200


class PublishRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"event_type": t.value, "payload": sample_payload(t)} for t in EventType]
        }
    )

    event_type: EventType
    payload: dict[str, Any] = Field(description="The event's payload, as the seed documents it")


class PublishResponse(BaseModel):
    event_id: str
    deliveries: int = Field(description="How many webhooks the event will be delivered to")


class DeliveryStateOut(BaseModel):
    delivery_id: str
    webhook_id: str
    status: DeliveryStatus
    attempt_count: int
    next_attempt_at: float | None
    created_at: float
    updated_at: float


class EventOut(BaseModel):
    event_id: str
    event_type: EventType
    posting_id: str
    interview_id: str
    created_at: float
    idempotency_key: str | None
    payload: dict[str, Any]
    deliveries: list[DeliveryStateOut]


@router.post(
    "",
    response_model=PublishResponse,
    status_code=202,
    summary="Publish an event",
    responses={403: error("Publishing needs a publisher key")},
)
async def publish_event(
    request: Request,
    principal: Publisher,
    body: PublishRequest,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            max_length=MAX_IDEMPOTENCY_KEY_LENGTH,
            description="Repeat a publish safely: the same key returns the first event",
        ),
    ] = None,
):
    """Validates the payload, stores the event and one delivery per active webhook of the
    workspace with the same ``posting_id`` and ``event_type``, then answers 202."""
    try:
        validate_payload(body.event_type, body.payload)
    except PayloadError as exc:
        return validation_response(exc.errors)
    published = await request.app.state.publisher.publish(
        event_store.NewEvent(
            workspace_id=principal.workspace_id,
            event_type=body.event_type.value,
            posting_id=body.payload["posting_id"],
            interview_id=body.payload["interview_id"],
            payload=encode_payload(body.payload),
            idempotency_key=idempotency_key,
        ),
    )
    headers = {}
    if published.replayed:
        headers["Idempotent-Replayed"] = "true"
    else:
        EVENTS_PUBLISHED.labels(body.event_type.value).inc()
        if published.deliveries:
            request.app.state.wake_worker()
    # The hot path answers directly: the body is two known fields, so FastAPI's
    # validation and serialisation of the response model would only cost time.
    return JSONResponse(
        {"event_id": published.event_id, "deliveries": published.deliveries},
        status_code=202,
        headers=headers,
    )


@router.get("/{event_id}", response_model=EventOut, summary="An event and its deliveries")
async def get_event(request: Request, principal: CurrentPrincipal, event_id: str):
    event = await event_store.get_event(request.app.state.engine, principal.workspace_id, event_id)
    if event is None:
        raise HTTPException(404, "event not found")
    return EventOut(
        event_id=event.event_id,
        event_type=EventType(event.event_type),
        posting_id=event.posting_id,
        interview_id=event.interview_id,
        created_at=event.created_at,
        idempotency_key=event.idempotency_key,
        payload=json.loads(event.payload),
        deliveries=[DeliveryStateOut(**vars(d)) for d in event.deliveries],
    )
