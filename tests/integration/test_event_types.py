"""The event catalog: every event type with its description, JSON Schema and example,
for any valid key; each schema accepts the seed's example and refuses what Hookline
refuses."""

from __future__ import annotations

import jsonschema
import pytest

from hookline.domain.events import EventType, PayloadError, sample_payload, validate_payload
from tests.conftest import seed_example
from tests.support.server import HooklineServer
from tests.support.workspace import Workspace


def test_catalog_lists_every_event_type_for_any_key(
    server: HooklineServer, acme: Workspace
) -> None:
    by_integrator = acme.integrator.get("/api/event-types")
    by_publisher = acme.publisher.get("/api/event-types")
    with server.client() as anonymous:
        assert anonymous.get("/api/event-types").status_code == 401
    assert by_integrator.status_code == by_publisher.status_code == 200
    assert by_integrator.json() == by_publisher.json()

    catalog = {entry["event_type"]: entry for entry in by_integrator.json()["data"]}
    assert list(catalog) == [
        "interview_started", "interview_completed", "report_available",
        "webhook_disabled", "delivery_failed",
    ]  # fmt: skip
    assert catalog["interview_started"]["description"] == (
        "Triggered when a candidate begins an interview session"
    )
    for event_type, entry in catalog.items():
        assert set(entry) == {"event_type", "description", "schema", "example"}
        operational = event_type in ("webhook_disabled", "delivery_failed")
        assert entry["example"] == (
            sample_payload(EventType(event_type)) if operational else seed_example(event_type)
        )
        jsonschema.Draft202012Validator.check_schema(entry["schema"])
        jsonschema.validate(entry["example"], entry["schema"], jsonschema.Draft202012Validator)


@pytest.mark.parametrize(
    ("event_type", "change"),
    [
        ("interview_started", {"timestamp": "1770816760.3"}),
        ("interview_completed", {"workflow_completed": "yes"}),
        ("report_available", {"agentic_data": {"web_interview_info": {"summary": {}}}}),
        ("interview_started", {"metadata": None}),
    ],
)
def test_schema_refuses_what_hookline_refuses(
    acme: Workspace, event_type: str, change: dict
) -> None:
    catalog = {e["event_type"]: e for e in acme.integrator.get("/api/event-types").json()["data"]}
    payload = seed_example(event_type) | change
    with pytest.raises(PayloadError):
        validate_payload(EventType(event_type), payload)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(payload, catalog[event_type]["schema"], jsonschema.Draft202012Validator)


def test_schema_keeps_unknown_fields_open(acme: Workspace) -> None:
    catalog = {e["event_type"]: e for e in acme.integrator.get("/api/event-types").json()["data"]}
    payload = seed_example("interview_completed") | {"added_later": {"any": "thing"}}
    validate_payload(EventType.INTERVIEW_COMPLETED, payload)
    jsonschema.validate(payload, catalog["interview_completed"]["schema"])
