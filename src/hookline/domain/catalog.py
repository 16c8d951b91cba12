"""The event catalog: each event type's description, JSON Schema and example.

The schemas are generated from the payload models Hookline validates with, so the
catalog, the API and the receiver kits (generated from this catalog) cannot disagree.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from hookline.domain.events import PAYLOAD_MODELS, EventType, sample_payload

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

# The seed document's words for each event type.
DESCRIPTIONS: dict[EventType, str] = {
    EventType.INTERVIEW_STARTED: "Triggered when a candidate begins an interview session",
    EventType.INTERVIEW_COMPLETED: "Triggered when a candidate finishes all steps of an interview",
    EventType.REPORT_AVAILABLE: "Triggered when the AI-generated interview report is ready to view",
    EventType.WEBHOOK_DISABLED: "Sent by Hookline when it disables a webhook of the workspace "
    "itself (410 Gone, or failing longer than HOOKLINE_DISABLE_AFTER_HOURS)",
    EventType.DELIVERY_FAILED: "Sent by Hookline when a delivery has exhausted its retries",
}


@cache
def payload_schema(event_type: EventType) -> dict[str, Any]:
    """The JSON Schema of an event type's payload (draft 2020-12)."""
    schema = PAYLOAD_MODELS[event_type].model_json_schema()
    return {"$schema": JSON_SCHEMA_DIALECT, **schema, "description": DESCRIPTIONS[event_type]}


def event_catalog() -> list[dict[str, Any]]:
    """Every event type with its description, payload schema and the seed's example."""
    return [
        {
            "event_type": event_type.value,
            "description": DESCRIPTIONS[event_type],
            "schema": payload_schema(event_type),
            "example": sample_payload(event_type),
        }
        for event_type in EventType
    ]
