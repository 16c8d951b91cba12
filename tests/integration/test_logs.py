"""Structured logs: one JSON object a line with the ids, and never a secret or a key."""

from __future__ import annotations

import json

from tests.conftest import MakeReceiver, MakeServer, seed_example
from tests.support.receiver import Reply
from tests.support.workspace import Workspace


def test_json_logs_carry_ids_and_no_secret(
    make_server: MakeServer, make_receiver: MakeReceiver
) -> None:
    receiver = make_receiver()
    receiver.script("/logged", [Reply(500), Reply(200)])
    server = make_server(
        env={
            "HOOKLINE_LOG_FORMAT": "json",
            "HOOKLINE_LOG_LEVEL": "info",
            "HOOKLINE_RETRY_SCHEDULE": "0.2",
        },
    )
    workspace = Workspace.on(server, "logging")
    webhook = workspace.create_webhook(receiver.url("/logged"), "logs", "interview_started")
    rotated = workspace.integrator.post(
        f"/api/webhook/rotate-secret/{webhook['webhook_id']}"
    ).json()["secret"]
    payload = seed_example("interview_started") | {"posting_id": "logs"}
    event_id = workspace.publish("interview_started", payload).json()["event_id"]
    receiver.wait_for("/logged", 2)
    with server.client("hl_wrong-key") as stranger:
        assert stranger.get("/api/webhook/all").status_code == 401
    # The worker logs an attempt before it records the outcome: once the delivery has
    # succeeded, both attempts' lines are written, and no attempt comes after.
    workspace.wait_for_event(event_id, "succeeded")
    server.stop()

    lines = [line for line in server.log().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= set(e) for e in entries)
    attempts = [e for e in entries if e["message"].startswith("attempt ")]
    assert len(attempts) == 2
    for entry in attempts:
        assert entry["event_id"] == event_id
        assert entry["webhook_id"] == webhook["webhook_id"]
        assert entry["delivery_id"].startswith("dlv_")
    text = server.log()
    keys = [workspace.integrator.headers["X-API-KEY"], workspace.publisher.headers["X-API-KEY"]]
    for secret in [webhook["secret"], rotated, *keys, "hl_wrong-key"]:
        assert secret not in text
