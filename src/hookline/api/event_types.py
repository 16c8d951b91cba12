"""``GET /api/event-types``: the event catalog, for integrators writing receivers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from hookline.api.deps import AnyRole
from hookline.api.errors import API_ERRORS
from hookline.domain.catalog import event_catalog
from hookline.domain.events import EventType

router = APIRouter(prefix="/api/event-types", tags=["event types"], responses=API_ERRORS)


class EventTypeOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    event_type: EventType
    description: str
    # "schema" would shadow a BaseModel attribute, hence the alias.
    payload_schema: dict[str, Any] = Field(
        alias="schema", description="JSON Schema (draft 2020-12) of the event's payload"
    )
    example: dict[str, Any] = Field(description="The seed document's example payload")


class EventTypeList(BaseModel):
    data: list[EventTypeOut]


@router.get("", response_model=EventTypeList, summary="The event catalog")
async def list_event_types(_principal: AnyRole) -> dict[str, Any]:
    """Every event type with its description, the JSON Schema of its payload (generated
    from the models Hookline validates published payloads with) and an example."""
    return {"data": event_catalog()}
