"""Published events reach real receivers: signed, retried, logged."""

from __future__ import annotations

import json
from itertools import pairwise
from urllib.parse import parse_qsl

import pytest
from standardwebhooks import Webhook as Verifier

from hookline import __version__
from tests.conftest import seed_example
from tests.support.markers import WHOLE_SCHEDULE, marker_arrives
from tests.support.receiver import Receiver, Reply
from tests.support.workspace import Workspace

EVENT_TYPES = ["interview_started", "interview_completed", "report_available"]


def deliveries_of(workspace: Workspace, webhook_id: str, **params: str) -> list[dict]:
    response = workspace.integrator.get(f"/api/webhook/deliveries/{webhook_id}", params=params)
    assert response.status_code == 200, response.text
    return response.json()["data"]


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_seed_example_arrives_equal_and_verified(
    acme: Workspace, receiver: Receiver, path: str, event_type: str
) -> None:
    example = seed_example(event_type)
    webhook = acme.create_webhook(receiver.url(path), example["posting_id"], event_type)

    published = acme.publish(event_type, example)
    assert published.status_code == 202, published.text
    assert published.json()["deliveries"] >= 1
    (request,) = receiver.wait_for(path)

    assert request.method == "POST"
    assert json.loads(request.body) == example
    verified = Verifier(webhook["secret"]).verify(request.body, request.headers)
    assert verified == example
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == f"hookline/{__version__}"
    assert request.headers["x-hookline-event-type"] == event_type
    assert request.headers["x-hookline-event-id"] == published.json()["event_id"]


def test_get_delivery_carries_the_scalars_as_signed_query(
    acme: Workspace, receiver: Receiver, path: str, posting_id: str
) -> None:
    example = seed_example("interview_completed") | {"posting_id": posting_id}
    webhook = acme.create_webhook(
        receiver.url(path) + "?source=hookline", posting_id, "interview_completed", "get"
    )

    event_id = acme.publish("interview_completed", example).json()["event_id"]
    (request,) = receiver.wait_for(path)

    assert request.method == "GET"
    assert request.body == b""
    assert dict(parse_qsl(request.query)) == {
        "source": "hookline",
        "event_type": "interview_completed",
        "event_id": event_id,
        "interview_id": example["interview_id"],
        "posting_id": posting_id,
        "timestamp": repr(example["timestamp"]),
    }
    Verifier(webhook["secret"]).verify(request.query, request.headers, json_parse=False)


def test_failures_are_retried_with_the_same_webhook_id(
    acme: Workspace, receiver: Receiver, path: str, posting_id: str
) -> None:
    receiver.script(path, [Reply(500, b"boom"), Reply(500, b"boom again"), Reply(200, b"thanks")])
    webhook = acme.create_webhook(receiver.url(path), posting_id, "interview_started")
    payload = seed_example("interview_started") | {"posting_id": posting_id}

    event_id = acme.publish("interview_started", payload).json()["event_id"]
    requests = receiver.wait_for(path, 3)
    acme.wait_for_event(event_id, "succeeded")

    assert len({r.headers["webhook-id"] for r in requests}) == 1
    for request in requests:
        Verifier(webhook["secret"]).verify(request.body, request.headers)
    (delivery,) = deliveries_of(acme, webhook["webhook_id"])
    assert delivery["delivery_id"] == requests[0].headers["webhook-id"]
    assert delivery["status"] == "succeeded"
    assert delivery["attempt_count"] == 3
    attempts = delivery["attempts"]
    assert [a["attempt_number"] for a in attempts] == [3, 2, 1]  # newest first
    assert [a["status_code"] for a in attempts] == [200, 500, 500]
    assert [a["response_excerpt"] for a in attempts] == ["thanks", "boom again", "boom"]
    assert all(a["error"] is None and a["duration_ms"] >= 0 for a in attempts)
    # The schedule's 0.3 s (±10 %) wait separates the attempts.
    gaps = [b.at - a.at for a, b in pairwise(requests)]
    assert all(gap >= 0.25 for gap in gaps), gaps


def test_delivery_fails_after_the_last_scheduled_attempt(
    acme: Workspace, receiver: Receiver, path: str, posting_id: str
) -> None:
    receiver.script(path, [Reply(503, b"down")])
    webhook = acme.create_webhook(receiver.url(path), posting_id, "interview_started")
    payload = seed_example("interview_started") | {"posting_id": posting_id}

    event_id = acme.publish("interview_started", payload).json()["event_id"]
    event = acme.wait_for_event(event_id, "failed")

    # HOOKLINE_RETRY_SCHEDULE=0.3,0.3,0.3: the immediate attempt and three retries.
    assert event["deliveries"][0]["attempt_count"] == 4
    marker_arrives(acme, receiver, failures=WHOLE_SCHEDULE)  # no fifth attempt came first
    assert len(receiver.at(path)) == 4
    (failed,) = deliveries_of(acme, webhook["webhook_id"], status="failed")
    assert len(failed["attempts"]) == 4
    assert deliveries_of(acme, webhook["webhook_id"], status="succeeded") == []


def test_redirects_are_not_followed(
    acme: Workspace, receiver: Receiver, path: str, posting_id: str
) -> None:
    target = path + "-target"
    receiver.script(path, [Reply(302, b"", headers={"location": receiver.url(target)})])
    acme.create_webhook(receiver.url(path), posting_id, "interview_started")
    payload = seed_example("interview_started") | {"posting_id": posting_id}

    event_id = acme.publish("interview_started", payload).json()["event_id"]
    acme.wait_for_event(event_id, "failed")

    assert len(receiver.at(path)) == 4
    assert receiver.at(target) == []


def test_timeout_and_refused_connection_are_failed_attempts(
    acme: Workspace, receiver: Receiver, path: str, posting_id: str
) -> None:
    receiver.script(path, [Reply(200, delay=3)])  # the test server's timeout is 2 s
    slow = acme.create_webhook(receiver.url(path), posting_id, "interview_started")
    closed = acme.create_webhook("http://127.0.0.1:9/closed", posting_id, "interview_started")
    payload = seed_example("interview_started") | {"posting_id": posting_id}

    event_id = acme.publish("interview_started", payload).json()["event_id"]
    acme.wait_for_event(event_id, "failed", timeout=30)

    slow_attempts = deliveries_of(acme, slow["webhook_id"])[0]["attempts"]
    assert {a["error"] for a in slow_attempts} == {"timed out after 2 s"}
    assert all(a["status_code"] is None for a in slow_attempts)
    closed_attempts = deliveries_of(acme, closed["webhook_id"])[0]["attempts"]
    assert {a["error"] for a in closed_attempts} == {"connection failed: Connection refused"}


def test_response_excerpt_keeps_the_first_kilobyte(
    acme: Workspace, receiver: Receiver, path: str, posting_id: str
) -> None:
    receiver.script(path, [Reply(200, b"a" * 1000 + b"b" * 5000)])
    webhook = acme.create_webhook(receiver.url(path), posting_id, "interview_started")
    payload = seed_example("interview_started") | {"posting_id": posting_id}

    event_id = acme.publish("interview_started", payload).json()["event_id"]
    acme.wait_for_event(event_id, "succeeded")

    (attempt,) = deliveries_of(acme, webhook["webhook_id"])[0]["attempts"]
    assert attempt["response_excerpt"] == "a" * 1000 + "b" * 24


def test_fan_out_matches_posting_event_type_and_active(
    acme: Workspace, receiver: Receiver, path: str, posting_id: str
) -> None:
    first = acme.create_webhook(receiver.url(path + "-1"), posting_id, "interview_started")
    second = acme.create_webhook(receiver.url(path + "-2"), posting_id, "interview_started", "get")
    acme.create_webhook(receiver.url(path + "-other-type"), posting_id, "report_available")
    acme.create_webhook(receiver.url(path + "-other-posting"), "elsewhere", "interview_started")
    inactive = acme.create_webhook(
        receiver.url(path + "-inactive"), posting_id, "interview_started"
    )
    acme.integrator.post(f"/api/webhook/deactivate/{inactive['webhook_id']}")
    payload = seed_example("interview_started") | {"posting_id": posting_id}

    published = acme.publish("interview_started", payload)
    assert published.json()["deliveries"] == 2
    receiver.wait_for(path + "-1")
    receiver.wait_for(path + "-2")
    event = acme.wait_for_event(published.json()["event_id"], "succeeded")

    assert event["payload"] == payload
    assert {d["webhook_id"] for d in event["deliveries"]} == {
        first["webhook_id"],
        second["webhook_id"],
    }
    marker_arrives(acme, receiver)
    for suffix in ("-other-type", "-other-posting", "-inactive"):
        assert receiver.at(path + suffix) == []


def test_deactivation_cancels_pending_deliveries(
    acme: Workspace, receiver: Receiver, path: str, posting_id: str
) -> None:
    # Slow failures after the first: the schedule takes seconds, not a second, so the
    # deactivation below lands while the delivery is still pending, however busy the
    # machine is.
    receiver.script(path, [Reply(500), Reply(500, delay=1.5)])
    webhook = acme.create_webhook(receiver.url(path), posting_id, "interview_started")
    payload = seed_example("interview_started") | {"posting_id": posting_id}

    event_id = acme.publish("interview_started", payload).json()["event_id"]
    receiver.wait_for(path)
    acme.integrator.post(f"/api/webhook/deactivate/{webhook['webhook_id']}")
    event = acme.wait_for_event(event_id, "cancelled")
    sent = len(receiver.at(path))
    marker_arrives(acme, receiver, failures=WHOLE_SCHEDULE)  # outlasts every retry

    assert len(receiver.at(path)) == sent
    assert event["deliveries"][0]["status"] == "cancelled"
    assert acme.publish("interview_started", payload).json()["deliveries"] == 0


def test_idempotency_key_returns_the_first_event(
    acme: Workspace, receiver: Receiver, path: str, posting_id: str
) -> None:
    acme.create_webhook(receiver.url(path), posting_id, "interview_started")
    payload = seed_example("interview_started") | {"posting_id": posting_id}

    first = acme.publish("interview_started", payload, idempotency_key=posting_id)
    again = acme.publish("interview_started", payload, idempotency_key=posting_id)

    assert first.status_code == again.status_code == 202
    assert again.json() == first.json() == {"event_id": first.json()["event_id"], "deliveries": 1}
    assert again.headers["idempotent-replayed"] == "true"
    receiver.wait_for(path)
    marker_arrives(acme, receiver)
    assert len(receiver.at(path)) == 1
    other = acme.publish("interview_started", payload, idempotency_key=posting_id + "-2")
    assert other.json()["event_id"] != first.json()["event_id"]


def test_test_endpoint_sends_a_sample_now(
    acme: Workspace, receiver: Receiver, path: str, posting_id: str
) -> None:
    webhook = acme.create_webhook(receiver.url(path), posting_id, "report_available")

    sent = acme.integrator.post(f"/api/webhook/test/{webhook['webhook_id']}")
    assert sent.status_code == 202
    assert sent.json()["deliveries"] == 1
    (request,) = receiver.wait_for(path)

    body = Verifier(webhook["secret"]).verify(request.body, request.headers)
    assert body["posting_id"] == posting_id
    assert body["agentic_data"] == seed_example("report_available")["agentic_data"]


def test_redeliver_sends_a_failed_delivery_again(
    acme: Workspace, receiver: Receiver, path: str, posting_id: str
) -> None:
    receiver.script(path, [Reply(500), Reply(500), Reply(500), Reply(500), Reply(200)])
    webhook = acme.create_webhook(receiver.url(path), posting_id, "interview_started")
    payload = seed_example("interview_started") | {"posting_id": posting_id}
    event_id = acme.publish("interview_started", payload).json()["event_id"]
    event = acme.wait_for_event(event_id, "failed")
    delivery_id = event["deliveries"][0]["delivery_id"]

    response = acme.integrator.post(f"/api/webhook/redeliver/{delivery_id}")
    assert response.status_code == 202
    assert response.json() == {"delivery_id": delivery_id, "status": "pending"}
    requests = receiver.wait_for(path, 5)
    acme.wait_for_event(event_id, "succeeded")

    assert requests[-1].headers["webhook-id"] == delivery_id
    (delivery,) = deliveries_of(acme, webhook["webhook_id"])
    assert delivery["attempt_count"] == 5
    assert delivery["attempts"][0]["status_code"] == 200


def test_a_redelivery_requested_mid_attempt_goes_after_it(
    acme: Workspace, receiver: Receiver, path: str, posting_id: str
) -> None:
    """The first attempt's 200, recorded after the redelivery was queued, leaves the
    delivery queued: the receiver gets it twice, one attempt after the other."""
    receiver.script(path, [Reply(200, delay=1.0), Reply(200)])
    webhook = acme.create_webhook(receiver.url(path), posting_id, "interview_started")
    payload = seed_example("interview_started") | {"posting_id": posting_id}
    event_id = acme.publish("interview_started", payload).json()["event_id"]
    (first,) = receiver.wait_for(path)  # held for a second before its 200

    response = acme.integrator.post(f"/api/webhook/redeliver/{first.headers['webhook-id']}")
    assert response.status_code == 202
    second = receiver.wait_for(path, 2)[1]
    assert second.at >= first.at + 1.0  # after the first, not beside it
    acme.wait_for_event(event_id, "succeeded")
    (delivery,) = deliveries_of(acme, webhook["webhook_id"])
    assert delivery["attempt_count"] == 2
    assert [a["status_code"] for a in delivery["attempts"]] == [200, 200]


def test_rotated_secret_signs_with_both_secrets(
    acme: Workspace, receiver: Receiver, path: str, posting_id: str
) -> None:
    webhook = acme.create_webhook(receiver.url(path), posting_id, "interview_started")
    new_secret = acme.integrator.post(f"/api/webhook/rotate-secret/{webhook['webhook_id']}").json()[
        "secret"
    ]
    payload = seed_example("interview_started") | {"posting_id": posting_id}

    acme.publish("interview_started", payload)
    (request,) = receiver.wait_for(path)

    assert len(request.headers["webhook-signature"].split(" ")) == 2
    Verifier(webhook["secret"]).verify(request.body, request.headers)
    Verifier(new_secret).verify(request.body, request.headers)


def test_deliveries_are_paginated_newest_first(
    acme: Workspace, receiver: Receiver, path: str, posting_id: str
) -> None:
    webhook = acme.create_webhook(receiver.url(path), posting_id, "interview_started")
    payload = seed_example("interview_started") | {"posting_id": posting_id}
    event_ids = [acme.publish("interview_started", payload).json()["event_id"] for _ in range(5)]
    receiver.wait_for(path, 5)

    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        page = acme.integrator.get(
            f"/api/webhook/deliveries/{webhook['webhook_id']}", params=params
        ).json()
        assert len(page["data"]) <= 2
        seen += [d["event_id"] for d in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == event_ids[::-1]
    bad = acme.integrator.get(
        f"/api/webhook/deliveries/{webhook['webhook_id']}", params={"cursor": "garbage"}
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "cursor"
    too_many = acme.integrator.get(
        f"/api/webhook/deliveries/{webhook['webhook_id']}", params={"limit": "1000"}
    )
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["field"] == "limit"
