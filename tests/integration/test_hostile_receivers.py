"""Receivers that hang, trickle, flood, loop, reset, throttle, vanish or answer in binary:
each gets its recorded outcome, healthy deliveries carry on meanwhile, and the server's
memory stays bounded. Timeout 2 s and retries 0.3 s apart (the shared server)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import seed_example, unique
from tests.support.hostile import HostileReceiver
from tests.support.receiver import Receiver
from tests.support.server import HooklineServer
from tests.support.waiting import eventually
from tests.support.workspace import Workspace

FINAL = {"succeeded", "failed", "cancelled"}
MAX_RSS_BYTES = 300 * 1024 * 1024


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileReceiver]:
    running = HostileReceiver().start()
    yield running
    running.stop()


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _deliveries(acme: Workspace, webhook_id: str) -> list[dict]:
    return acme.integrator.get(f"/api/webhook/deliveries/{webhook_id}").json()["data"]


def test_hostile_receivers_get_outcomes_and_healthy_ones_carry_on(
    server: HooklineServer,
    acme: Workspace,
    hostile: HostileReceiver,
    receiver: Receiver,
) -> None:
    behaviours = [
        "hang", "trickle", "slowbody", "huge", "redirect", "reset", "toomany", "gone", "binary",
    ]  # fmt: skip
    webhooks = {}
    for behaviour in behaviours:
        posting_id = unique(behaviour)
        webhook = acme.create_webhook(hostile.url(behaviour), posting_id, "interview_started")
        webhooks[behaviour] = webhook["webhook_id"]
        payload = seed_example("interview_started") | {"posting_id": posting_id}
        assert acme.publish("interview_started", payload).status_code == 202

    # While the hostile ones are in flight, a healthy endpoint is served at once.
    healthy_path, healthy_posting = "/" + unique("healthy"), unique("healthy")
    acme.create_webhook(receiver.url(healthy_path), healthy_posting, "interview_started")
    published_at = time.time()
    acme.publish(
        "interview_started", seed_example("interview_started") | {"posting_id": healthy_posting}
    )
    (arrived,) = receiver.wait_for(healthy_path, timeout=5)
    assert arrived.at - published_at < 2.0

    def settled(behaviour: str) -> dict | None:
        data = _deliveries(acme, webhooks[behaviour])
        done = behaviour == "toomany" and data and data[0]["attempts"]
        return data[0] if data and (data[0]["status"] in FINAL or done) else None

    outcomes = {b: eventually(lambda b=b: settled(b), timeout=30, what=b) for b in behaviours}

    def attempts(behaviour: str) -> list[dict]:
        return outcomes[behaviour]["attempts"]

    for slow in ("hang", "trickle"):
        assert outcomes[slow]["status"] == "failed", (slow, outcomes[slow]["attempts"])
        assert len(attempts(slow)) == 4
        assert all(a["error"] == "timed out after 2 s" for a in attempts(slow))

    # The answer is a 200: it succeeded, whatever the body does after (read is not awaited
    # to the end, and the connection is not reused).
    assert outcomes["slowbody"]["status"] == "succeeded"
    assert attempts("slowbody")[0]["response_excerpt"].startswith("x")

    assert outcomes["huge"]["status"] == "succeeded"
    assert set(attempts("huge")[0]["response_excerpt"]) == {"z"}
    assert _rss(server.process.pid) < MAX_RSS_BYTES  # type: ignore[union-attr]

    assert outcomes["redirect"]["status"] == "failed"
    assert {a["status_code"] for a in attempts("redirect")} == {302}

    assert outcomes["reset"]["status"] == "failed"
    assert all(a["status_code"] is None and a["error"] for a in attempts("reset"))

    throttled = outcomes["toomany"]
    assert throttled["status"] == "pending"
    assert attempts("toomany")[0]["status_code"] == 429
    # Retry-After is honoured but clamped to an hour.
    assert 3000 < throttled["next_attempt_at"] - time.time() <= 3600 + 5

    gone = acme.integrator.get(f"/api/webhook/fetch/{webhooks['gone']}").json()
    assert gone["is_active"] is False
    assert "410" in gone["disabled_reason"]

    assert outcomes["binary"]["status"] == "succeeded"
    excerpt = attempts("binary")[0]["response_excerpt"]
    assert "\x00" not in excerpt
    assert "binary" in excerpt

    # And after all of it, the worker still delivers promptly.
    after_path, after_posting = "/" + unique("after"), unique("after")
    acme.create_webhook(receiver.url(after_path), after_posting, "interview_started")
    acme.publish(
        "interview_started", seed_example("interview_started") | {"posting_id": after_posting}
    )
    receiver.wait_for(after_path, timeout=5)
