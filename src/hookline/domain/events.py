"""Event types and the validation of published payloads."""

from __future__ import annotations

import json
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

from pydantic import ValidationError

from hookline.domain.codec import encode
from hookline.domain.payloads import (
    DeliveryFailed,
    InterviewCompleted,
    InterviewStarted,
    OpenModel,
    ReportAvailable,
    WebhookDisabled,
)
from hookline.errors import FieldProblem, InvalidInput


class EventType(StrEnum):
    INTERVIEW_STARTED = "interview_started"
    INTERVIEW_COMPLETED = "interview_completed"
    REPORT_AVAILABLE = "report_available"
    # Operational: published by Hookline itself, never by a publisher key.
    WEBHOOK_DISABLED = "webhook_disabled"
    DELIVERY_FAILED = "delivery_failed"


OPERATIONAL_EVENT_TYPES = frozenset({EventType.WEBHOOK_DISABLED, EventType.DELIVERY_FAILED})
# A webhook's event_type or posting_id that matches every one.
WILDCARD = "*"

PAYLOAD_MODELS: dict[EventType, type[OpenModel]] = {
    EventType.INTERVIEW_STARTED: InterviewStarted,
    EventType.INTERVIEW_COMPLETED: InterviewCompleted,
    EventType.REPORT_AVAILABLE: ReportAvailable,
    EventType.WEBHOOK_DISABLED: WebhookDisabled,
    EventType.DELIVERY_FAILED: DeliveryFailed,
}

# The top-level scalar fields a GET delivery carries as query parameters, in this order.
GET_QUERY_FIELDS = ("event_type", "event_id", "interview_id", "posting_id", "timestamp")


class PayloadError(InvalidInput):
    """A payload does not fit its event type's schema; ``problems`` name each field."""


def encode_payload(payload: Any) -> bytes:
    """The exact bytes sent as a POST body: compact JSON, Unicode kept as is."""
    return encode(payload)


def validate_payload(event_type: EventType, payload: Any) -> OpenModel:
    """Validate a decoded JSON payload against its event type's model."""
    model = PAYLOAD_MODELS[event_type]
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise PayloadError(
            [
                FieldProblem(".".join(["payload", *(str(part) for part in err["loc"])]), err["msg"])
                for err in exc.errors(include_url=False)
            ]
        ) from None


def get_query_params(
    event_type: str, event_id: str, payload: dict[str, Any]
) -> list[tuple[str, str]]:
    """The query parameters of a GET delivery: the event's top-level scalars."""
    values: dict[str, Any] = {"event_type": event_type, "event_id": event_id, **payload}
    params = []
    for name in GET_QUERY_FIELDS:
        value = values.get(name)
        if value is None:
            continue
        # Numbers keep their JSON spelling, so a float timestamp reads back unchanged.
        params.append((name, value if isinstance(value, str) else json.dumps(value)))
    return params


@cache
def _sample_text(event_type: EventType) -> str:
    path = resources.files("hookline.domain").joinpath(f"samples/{event_type.value}.json")
    return path.read_text(encoding="utf-8")


def sample_payload(event_type: EventType) -> dict[str, Any]:
    """A fresh copy of the seed document's example payload for an event type."""
    return json.loads(_sample_text(event_type))
