"""The payload models accept the seed's examples and name the field that does not fit."""

from __future__ import annotations

import pytest

from hookline.domain.events import (
    OPERATIONAL_EVENT_TYPES,
    EventType,
    PayloadError,
    sample_payload,
    validate_payload,
)
from hookline.errors import FieldProblem
from tests.conftest import seed_example


@pytest.mark.parametrize("event_type", [t for t in EventType if t not in OPERATIONAL_EVENT_TYPES])
def test_every_seed_example_validates(event_type: EventType) -> None:
    example = seed_example(event_type.value)
    model = validate_payload(event_type, example)
    assert model.model_dump() == example


@pytest.mark.parametrize("event_type", sorted(OPERATIONAL_EVENT_TYPES))
def test_every_operational_example_validates(event_type: EventType) -> None:
    example = sample_payload(event_type)
    assert validate_payload(event_type, example).model_dump() == example


def test_inner_metadata_is_an_open_nullable_object() -> None:
    started = seed_example("interview_started")
    report = seed_example("report_available")
    assert set(started["metadata"]["metadata"]) == {"source", "job_id"}
    assert set(report["metadata"]["metadata"]) == {"candidate_metadata_id", "resume_url"}
    started["metadata"]["metadata"] = None
    validate_payload(EventType.INTERVIEW_STARTED, started)


def test_types_are_strict() -> None:
    completed = seed_example("interview_completed") | {"timestamp": "1770810397.08"}
    with pytest.raises(PayloadError) as raised:
        validate_payload(EventType.INTERVIEW_COMPLETED, completed)
    assert raised.value.problems == [
        FieldProblem("payload.timestamp", "Input should be a valid number")
    ]


def test_integer_timestamps_are_floats_too() -> None:
    completed = seed_example("interview_completed") | {"timestamp": 1770810397}
    validate_payload(EventType.INTERVIEW_COMPLETED, completed)


def test_missing_nested_object_names_its_path() -> None:
    report = seed_example("report_available")
    del report["interview_data_model"]["details"]["workflow_status"]["step_by_step"][0][
        "state_flags"
    ]
    with pytest.raises(PayloadError) as raised:
        validate_payload(EventType.REPORT_AVAILABLE, report)
    assert [p.field for p in raised.value.problems] == [
        "payload.interview_data_model.details.workflow_status.step_by_step.0.state_flags"
    ]
