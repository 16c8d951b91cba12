"""The seed's four webhook calls, exactly, and the extensions' bookkeeping."""

from __future__ import annotations

import time

import pytest

from tests.conftest import seed_example, unique
from tests.support.receiver import Receiver
from tests.support.server import HooklineServer
from tests.support.workspace import Workspace

SEED_FIELDS = set(seed_example("webhook_response"))
# Beyond the seed: why Hookline deactivated a webhook itself (None otherwise).
WEBHOOK_FIELDS = SEED_FIELDS | {"disabled_reason", "ordering"}


def test_create_returns_the_seed_fields_and_a_secret(acme: Workspace, receiver: Receiver) -> None:
    request = seed_example("create_request") | {"url": receiver.url("/seed")}
    response = acme.integrator.post("/api/webhook/create", json=request)

    assert response.status_code == 200
    created = response.json()
    assert set(created) == WEBHOOK_FIELDS | {"secret"}
    assert created["disabled_reason"] is None
    assert created["ordering"] == "none"
    assert created["posting_id"] == request["posting_id"]
    assert created["url"] == request["url"]
    assert created["event_type"] == "interview_completed"
    assert created["http_method"] == "post"
    assert created["is_active"] is True
    assert isinstance(created["created_at"], float)
    assert created["created_at"] == created["updated_at"]
    assert created["secret"].startswith("whsec_")
    assert created["webhook_id"].startswith("webhook_")


def test_http_method_defaults_to_post(acme: Workspace, receiver: Receiver, posting_id: str) -> None:
    created = acme.create_webhook(receiver.url("/x"), posting_id, "interview_started")
    assert created["http_method"] == "post"


def test_fetch_and_all_never_show_the_secret(
    acme: Workspace, receiver: Receiver, posting_id: str
) -> None:
    created = acme.create_webhook(receiver.url("/x"), posting_id, "report_available", "get")

    fetched = acme.integrator.get(f"/api/webhook/fetch/{created['webhook_id']}")
    assert fetched.status_code == 200
    assert fetched.json() == {k: v for k, v in created.items() if k != "secret"}

    listed = acme.integrator.get("/api/webhook/all", params={"posting_id": posting_id})
    assert listed.status_code == 200
    assert listed.json() == [fetched.json()]
    assert "secret" not in listed.text


def test_all_filters_by_posting_and_event_type(acme: Workspace, receiver: Receiver) -> None:
    posting_a, posting_b = unique("posting"), unique("posting")
    started_a = acme.create_webhook(receiver.url("/a"), posting_a, "interview_started")
    completed_a = acme.create_webhook(receiver.url("/a"), posting_a, "interview_completed")
    acme.create_webhook(receiver.url("/b"), posting_b, "interview_started")

    def ids(**params: str) -> list[str]:
        response = acme.integrator.get("/api/webhook/all", params=params)
        assert response.status_code == 200
        return [w["webhook_id"] for w in response.json()]

    assert ids(posting_id=posting_a) == [started_a["webhook_id"], completed_a["webhook_id"]]
    assert ids(posting_id=posting_a, event_type="interview_completed") == [
        completed_a["webhook_id"]
    ]
    all_started = ids(event_type="interview_started")
    assert started_a["webhook_id"] in all_started
    assert completed_a["webhook_id"] not in all_started
    bad = acme.integrator.get("/api/webhook/all", params={"event_type": "nope"})
    assert bad.status_code == 422
    assert "event_type" in bad.json()["detail"]


def test_deactivate_and_activate(acme: Workspace, receiver: Receiver, posting_id: str) -> None:
    created = acme.create_webhook(receiver.url("/x"), posting_id, "interview_started")
    webhook_id = created["webhook_id"]

    deactivated = acme.integrator.post(f"/api/webhook/deactivate/{webhook_id}")
    assert deactivated.status_code == 200
    assert deactivated.json()["is_active"] is False
    assert deactivated.json()["updated_at"] > created["updated_at"]
    fetched = acme.integrator.get(f"/api/webhook/fetch/{webhook_id}").json()
    assert fetched["is_active"] is False

    activated = acme.integrator.post(f"/api/webhook/activate/{webhook_id}")
    assert activated.status_code == 200
    assert activated.json()["is_active"] is True


def test_secret_and_rotation(acme: Workspace, receiver: Receiver, posting_id: str) -> None:
    created = acme.create_webhook(receiver.url("/x"), posting_id, "interview_started")
    webhook_id = created["webhook_id"]

    secret = acme.integrator.get(f"/api/webhook/secret/{webhook_id}")
    assert secret.status_code == 200
    assert secret.json()["secret"] == created["secret"]

    rotated = acme.integrator.post(f"/api/webhook/rotate-secret/{webhook_id}")
    assert rotated.status_code == 200
    new = rotated.json()
    assert new["secret"].startswith("whsec_")
    assert new["secret"] != created["secret"]
    # The previous secret keeps signing for 24 hours.
    assert new["previous_secret_expires_at"] == pytest.approx(time.time() + 24 * 3600, abs=60)
    after = acme.integrator.get(f"/api/webhook/secret/{webhook_id}").json()
    assert after["secret"] == new["secret"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"event_type": "interview_paused"}, "event_type"),
        ({"event_type": None}, "event_type"),
        ({"url": "ftp://example.com/hook"}, "url"),
        ({"url": "/relative/path"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": "http://"}, "url"),
        ({"http_method": "put"}, "http_method"),
        ({"posting_id": ""}, "posting_id"),
        ({"posting_id": "   "}, "posting_id"),
        ({"posting_id": None}, "posting_id"),
        ({"posting_id": 123}, "posting_id"),
    ],
)
def test_create_refuses_bad_input_naming_the_field(
    acme: Workspace, receiver: Receiver, change: dict, field: str
) -> None:
    body = {
        "posting_id": "posting_123",
        "url": receiver.url("/x"),
        "event_type": "interview_completed",
    } | change
    body = {k: v for k, v in body.items() if v is not None}
    response = acme.integrator.post("/api/webhook/create", json=body)

    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == [field]
    assert response.json()["detail"].startswith(f"{field}: ")


def test_create_refuses_malformed_json(acme: Workspace) -> None:
    response = acme.integrator.post(
        "/api/webhook/create",
        content=b'{"posting_id": "p", ',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_json"


def test_http_method_is_case_insensitive(
    acme: Workspace, receiver: Receiver, posting_id: str
) -> None:
    created = acme.create_webhook(receiver.url("/x"), posting_id, "interview_started", "GET")
    assert created["http_method"] == "get"


def test_unknown_webhook_is_404(acme: Workspace) -> None:
    for method, path in [
        ("GET", "/api/webhook/fetch/webhook_nope"),
        ("POST", "/api/webhook/deactivate/webhook_nope"),
        ("POST", "/api/webhook/activate/webhook_nope"),
        ("GET", "/api/webhook/secret/webhook_nope"),
        ("POST", "/api/webhook/rotate-secret/webhook_nope"),
        ("POST", "/api/webhook/test/webhook_nope"),
        ("GET", "/api/webhook/deliveries/webhook_nope"),
        ("POST", "/api/webhook/redeliver/dlv_nope"),
        ("GET", "/api/events/evt_nope"),
    ]:
        response = acme.integrator.request(method, path)
        assert response.status_code == 404, (method, path, response.text)
        assert "not found" in response.json()["detail"]


def test_request_body_over_one_megabyte_is_413(acme: Workspace) -> None:
    big = {"event_type": "interview_started", "payload": {"pad": "x" * 1_100_000}}
    response = acme.publisher.post("/api/events", json=big)
    assert response.status_code == 413
    assert "exceeds" in response.json()["detail"]


def test_chunked_body_over_one_megabyte_is_413(acme: Workspace, server: HooklineServer) -> None:
    def chunks():
        for _ in range(12):
            yield b"x" * 100_000

    logged = len(server.log())
    response = acme.publisher.post(
        "/api/events", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    acme.publisher.get("/api/event-types")  # the refused request has been handled by now
    # A client's oversized body is its mistake: no error, no traceback in the log.
    assert "Traceback" not in server.log()[logged:]
