"""``/api/events``: the platform publishes interview events; anyone in the workspace reads them."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from hookline.api.deps import EventReader, Publisher, ServicesDep
from hookline.api.errors import API_ERRORS, error
from hookline.api.strict_json import StrictJsonRoute
from hookline.domain.events import OPERATIONAL_EVENT_TYPES, EventType, sample_payload
from hookline.domain.inputs import MAX_ID_LENGTH
from hookline.domain.webhooks import DeliveryStatus

router = APIRouter(
    prefix="/api/events", tags=["events"], responses=API_ERRORS, route_class=StrictJsonRoute
)


class PublishRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"event_type": t.value, "payload": sample_payload(t)}
                for t in EventType
                if t not in OPERATIONAL_EVENT_TYPES
            ]
        }
    )

    workspace: str | None = Field(
        None,
        description="The workspace to publish into: required with an installation-wide key, "
        "optional (and only its own) with a workspace's key",
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
    responses={409: error("The Idempotency-Key was used before with another body")},
)
async def publish_event(
    services: ServicesDep,
    principal: Publisher,
    body: PublishRequest,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            max_length=MAX_ID_LENGTH,
            description="Repeat a publish safely: the same key and body return the first "
            "event; the same key with another body is a 409",
        ),
    ] = None,
) -> JSONResponse:
    """Validates the payload, stores the event and one delivery per active webhook of the
    workspace with the same ``posting_id`` and ``event_type``, then answers 202."""
    published = await services.events.publish(
        principal, body.event_type.value, body.payload, idempotency_key, body.workspace
    )
    headers = {"Idempotent-Replayed": "true"} if published.replayed else None
    # The hot path answers directly: the body is two known fields, so FastAPI's
    # validation and serialisation of the response model would only cost time.
    return JSONResponse(
        {"event_id": published.event_id, "deliveries": published.deliveries},
        status_code=202,
        headers=headers,
    )


@router.get("/{event_id}", summary="An event and its deliveries")
async def get_event(services: ServicesDep, principal: EventReader, event_id: str) -> EventOut:
    event = await services.events.get(principal, event_id)
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
