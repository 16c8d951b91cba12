"""Publishing: typed payload validation through the API, and what a publish stores."""

from __future__ import annotations

import copy

import pytest

from tests.conftest import seed_example
from tests.support.workspace import Workspace


def test_unknown_event_type_is_422(acme: Workspace) -> None:
    response = acme.publish("interview_paused", seed_example("interview_started"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "event_type"


@pytest.mark.parametrize(
    ("event_type", "mutate", "field"),
    [
        ("interview_started", lambda p: p.pop("interview_id"), "payload.interview_id"),
        ("interview_started", lambda p: p.update(timestamp="yesterday"), "payload.timestamp"),
        (
            "interview_started",
            lambda p: p["metadata"].pop("candidate_email"),
            "payload.metadata.candidate_email",
        ),
        (
            "interview_completed",
            lambda p: p.update(workflow_completed="yes"),
            "payload.workflow_completed",
        ),
        (
            "report_available",
            lambda p: p["agentic_data"]["web_interview_info"]["summary"].update(match_score="high"),
            "payload.agentic_data.web_interview_info.summary.match_score",
        ),
        (
            "report_available",
            lambda p: p["interview_data_model"]["posting_info"].pop("title"),
            "payload.interview_data_model.posting_info.title",
        ),
    ],
)
def test_payload_that_does_not_fit_is_422_naming_the_field(
    acme: Workspace, event_type: str, mutate, field: str
) -> None:
    payload = copy.deepcopy(seed_example(event_type))
    mutate(payload)
    response = acme.publish(event_type, payload)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert response.json()["detail"].startswith(field)


def test_payload_must_be_an_object(acme: Workspace) -> None:
    response = acme.publisher.post(
        "/api/events", json={"event_type": "interview_started", "payload": [1, 2]}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "payload"


def test_nullable_fields_and_unknown_fields_are_accepted_and_kept(
    acme: Workspace, posting_id: str
) -> None:
    payload = seed_example("interview_started") | {"posting_id": posting_id, "new_field": [1]}
    payload["metadata"]["metadata"] = None

    response = acme.publish("interview_started", payload)
    assert response.status_code == 202, response.text
    stored = acme.integrator.get(f"/api/events/{response.json()['event_id']}").json()
    assert stored["payload"] == payload
    assert stored["event_type"] == "interview_started"
    assert stored["posting_id"] == posting_id
    assert stored["interview_id"] == payload["interview_id"]
    assert stored["deliveries"] == []


def test_publish_without_webhooks_stores_the_event(acme: Workspace, posting_id: str) -> None:
    payload = seed_example("interview_completed") | {"posting_id": posting_id}
    response = acme.publish("interview_completed", payload)
    assert response.status_code == 202
    assert response.json()["deliveries"] == 0
    assert acme.integrator.get(f"/api/events/{response.json()['event_id']}").status_code == 200
