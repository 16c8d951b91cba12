"""Anything accepted survives kill -9: on restart, pending and in-flight deliveries go out."""

from __future__ import annotations

import json
from collections import Counter

from tests.conftest import MakeReceiver, MakeServer, seed_example
from tests.support.receiver import Reply
from tests.support.waiting import eventually
from tests.support.workspace import Workspace

EVENTS = 20


def test_kill_9_loses_nothing(make_server: MakeServer, make_receiver: MakeReceiver) -> None:
    receiver = make_receiver()
    # One request at a time, each answered after a second: at the kill one attempt is in
    # flight and the rest are claimed or waiting.
    receiver.script("/crash", [Reply(200, delay=1.0)])
    server = make_server(env={"HOOKLINE_ENDPOINT_CONCURRENCY": "1"})
    workspace = Workspace.on(server, "crash")
    publisher = workspace.publisher
    created = workspace.create_webhook(receiver.url("/crash"), "crash-posting", "interview_started")
    payload = seed_example("interview_started") | {"posting_id": "crash-posting"}
    accepted = []
    for n in range(EVENTS):
        body = {
            "event_type": "interview_started",
            "payload": payload | {"interview_id": str(n)},
        }
        response = publisher.post("/api/events", json=body)
        assert response.status_code == 202
        accepted.append(str(n))
    receiver.wait_for("/crash", 1)  # the first attempt is in flight now

    server.kill()
    sent_before_kill = {json.loads(r.body)["interview_id"] for r in receiver.at("/crash")}
    server.start()
    receiver.script("/crash", [Reply(200)])

    def delivered() -> list[str]:
        return [json.loads(r.body)["interview_id"] for r in receiver.at("/crash")]

    eventually(
        lambda: set(delivered()) == set(accepted),
        timeout=30,
        interval=0.1,
        what=lambda: f"missing: {set(accepted) - set(delivered())}",
    )
    # At-least-once: only what had been sent before the kill may arrive twice.
    counts = Counter(delivered())
    assert {n for n, count in counts.items() if count > 1} <= sent_before_kill
    assert len(delivered()) - len(accepted) <= len(sent_before_kill)
    with server.client(server.create_key("crash")) as reader:
        webhook_id = created["webhook_id"]
        page = reader.get(f"/api/webhook/deliveries/{webhook_id}", params={"limit": "100"}).json()
    assert len(page["data"]) == EVENTS
