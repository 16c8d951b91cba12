"""Endpoints that misbehave: slow ones hold up nobody else; Retry-After, 410 Gone and long
failure are honoured; failed deliveries can be recovered."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

import pytest
from sqlalchemy import select

from hookline.config import Settings
from hookline.delivery import worker as worker_module
from hookline.delivery.worker import DeliveryWorker
from hookline.domain.webhooks import HttpMethod
from hookline.store import events as event_store
from hookline.store import keys as key_store
from hookline.store import webhooks as webhook_store
from hookline.store.database import create_engine
from hookline.store.events import NewEvent
from hookline.store.migrate import upgrade_to_head
from hookline.store.queue import claim_due
from hookline.store.schema import attempts
from tests.conftest import MakeReceiver, MakeServer, seed_example
from tests.support.markers import WHOLE_SCHEDULE, marker_arrives
from tests.support.receiver import Received, Receiver, Reply
from tests.support.waiting import eventually
from tests.support.workspace import Workspace

T = TypeVar("T")


def payload_for(posting_id: str, interview_id: str = "A1") -> dict:
    return seed_example("interview_started") | {
        "posting_id": posting_id,
        "interview_id": interview_id,
    }


def deactivated(workspace: Workspace, webhook_id: str) -> dict | None:
    """The webhook once it is inactive, else None: a check for eventually()."""
    webhook = workspace.integrator.get(f"/api/webhook/fetch/{webhook_id}").json()
    return None if webhook["is_active"] else webhook


def test_slow_endpoint_does_not_hold_up_a_fast_one(
    make_server: MakeServer, make_receiver: MakeReceiver, new_database_url: str
) -> None:
    receiver = make_receiver()
    receiver.script("/slow", [Reply(200, delay=10)])
    server = make_server(
        new_database_url,
        env={"HOOKLINE_ENDPOINT_CONCURRENCY": "2", "HOOKLINE_WORKER_CONCURRENCY": "10"},
    )
    workspace = Workspace.on(server, "isolation")
    for path, posting in (("/slow", "slow-posting"), ("/fast", "fast-posting")):
        workspace.create_webhook(receiver.url(path), posting, "interview_started")
    # The slow endpoint's backlog first: 30 deliveries of 10 s each.
    for n in range(30):
        published = workspace.publish("interview_started", payload_for("slow-posting", str(n)))
        assert published.status_code == 202
    receiver.wait_for("/slow", 2)
    started = time.monotonic()
    for n in range(20):
        published = workspace.publish("interview_started", payload_for("fast-posting", str(n)))
        assert published.status_code == 202
    receiver.wait_for("/fast", 20, timeout=8)
    elapsed = time.monotonic() - started

    assert elapsed < 8  # a tenth of what the slow backlog needs even at full concurrency
    assert len(receiver.at("/slow")) == 2  # the per-endpoint limit
    server.kill()  # not a graceful stop that would wait for the slow attempts in flight


def run_worker_over(
    database_url: str,
    receiver: Receiver,
    settings: Settings,
    backlogs: list[tuple[str, int]],
    until: Callable[[], T],
) -> T:
    """Store each backlog in turn, ``count`` deliveries to the receiver's ``path`` (a
    webhook each), then run a delivery worker until ``until()`` returns, and stop it."""
    upgrade_to_head(database_url)

    async def work() -> T:
        engine = create_engine(database_url)
        try:
            created = await key_store.create_workspace(engine, "acme")
            assert created is not None
            for path, count in backlogs:
                await webhook_store.create_webhook(
                    engine, created.workspace_id, path, receiver.url(path), "interview_started",
                    HttpMethod.POST,
                )  # fmt: skip
                await event_store.publish_batch(
                    engine,
                    [NewEvent(created.workspace_id, "interview_started", path, f"i-{n}",
                              b"{}", None)
                     for n in range(count)],
                )  # fmt: skip
            worker = DeliveryWorker(engine, settings)
            await worker.start()
            try:
                return await asyncio.to_thread(until)
            finally:
                await worker.stop()
        finally:
            await engine.dispose()

    return asyncio.run(work())


def test_a_backlog_ahead_in_the_queue_does_not_hold_up_a_webhook_behind_it(
    make_receiver: MakeReceiver, new_database_url: str
) -> None:
    """A slow webhook's backlog fills the first claims, which take only its share of it:
    the worker claims again at once, past it, and another webhook's delivery due behind
    the whole backlog goes out before any of the slow attempts has ended."""
    receiver = make_receiver()
    receiver.script("/slow", [Reply(200, delay=3)])
    settings = Settings.checked(
        endpoint_concurrency=2, worker_concurrency=4, poll_interval=30, allow_private_urls=True
    )

    def first_requests() -> tuple[Received, list[Received]]:
        (fast,) = receiver.wait_for("/fast", 1, 2.5)
        return fast, receiver.wait_for("/slow", 2, 2.5)

    fast, slow = run_worker_over(
        new_database_url, receiver, settings, [("/slow", 40), ("/fast", 1)], first_requests
    )
    assert len(receiver.at("/slow")) == 2  # the slow one's limit
    assert fast.at < min(request.at for request in slow) + 3  # none had ended


def test_no_more_attempts_are_in_flight_than_the_workers_concurrency(
    make_receiver: MakeReceiver, new_database_url: str
) -> None:
    """Six webhooks with two deliveries each, three slots, answers taking 1.8 s of a 3 s
    timeout: the claims take six, three go out and the rest wait their turn in the
    worker, three at a time. Handed to libcurl at once, they would wait there for a
    connection, inside their timeout, and time out."""
    receiver = make_receiver()
    paths = [f"/slot-{n}" for n in range(6)]
    for path in paths:
        receiver.script(path, [Reply(200, delay=1.8)])
    settings = Settings.checked(
        endpoint_concurrency=2,
        worker_concurrency=3,
        delivery_timeout=3,
        poll_interval=30,
        allow_private_urls=True,
    )

    def all_arrived() -> None:
        eventually(lambda: len(receiver.requests) >= 12, timeout=20, what="twelve attempts")

    run_worker_over(
        new_database_url, receiver, settings, [(path, 2) for path in paths], all_arrived
    )
    assert asyncio.run(attempt_errors(new_database_url)) == [None] * 12
    arrivals = sorted(request.at for request in receiver.requests)
    assert arrivals[2] - arrivals[0] < 1  # three slots used at once
    # A fourth never arrives while three answers are in flight.
    assert all(arrivals[n + 3] - arrivals[n] > 1.5 for n in range(len(arrivals) - 3))


async def attempt_errors(database_url: str) -> list[str | None]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(select(attempts.c.error))).scalars())
    finally:
        await engine.dispose()


def test_a_deep_backlog_of_one_webhook_is_not_read_past_at_every_free_slot(
    make_receiver: MakeReceiver, new_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A claim that passes over a busy webhook reads past its whole backlog: after one
    found nothing, the worker waits for new work or the poll before another, rather than
    making one each time the webhook frees a slot."""
    receiver = make_receiver()
    receiver.script("/hook", [Reply(200, delay=0.05)])
    settings = Settings.checked(
        endpoint_concurrency=2, worker_concurrency=10, poll_interval=30, allow_private_urls=True
    )
    claims: list[int] = []

    async def counted_claim(*args, **kwargs):  # type: ignore[no-untyped-def]
        claimed = await claim_due(*args, **kwargs)
        claims.append(len(claimed))
        return claimed

    monkeypatch.setattr(worker_module, "claim_due", counted_claim)
    run_worker_over(
        new_database_url, receiver, settings, [("/hook", 200)],
        lambda: receiver.wait_for("/hook", 30, 10),
    )  # fmt: skip
    assert len(claims) >= 10  # a claim per pair of free slots
    assert claims.count(0) <= 1  # the one that found the webhook busy, once


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured(
    acme: Workspace, receiver: Receiver, path: str, posting_id: str, status: int
) -> None:
    receiver.script(path, [Reply(status, headers={"retry-after": "2"}), Reply(200)])
    acme.create_webhook(receiver.url(path), posting_id, "interview_started")

    acme.publish("interview_started", payload_for(posting_id))
    first, second = receiver.wait_for(path, 2, timeout=10)

    # The schedule says 0.3 s; the endpoint asked for 2 s.
    assert second.at - first.at >= 1.9


def test_gone_deactivates_the_webhook_at_once(
    acme: Workspace, receiver: Receiver, path: str, posting_id: str
) -> None:
    receiver.script(path, [Reply(410, b"no such hook")])
    webhook = acme.create_webhook(receiver.url(path), posting_id, "interview_started")

    event_id = acme.publish("interview_started", payload_for(posting_id)).json()["event_id"]
    receiver.wait_for(path)
    fetched = eventually(
        lambda: deactivated(acme, webhook["webhook_id"]), what="the webhook deactivated"
    )

    assert fetched["disabled_reason"] == "the endpoint answered 410 Gone"
    event = acme.integrator.get(f"/api/events/{event_id}").json()
    assert event["deliveries"][0]["status"] == "cancelled"
    marker_arrives(acme, receiver, failures=WHOLE_SCHEDULE)  # outlasts any retry
    assert len(receiver.at(path)) == 1
    assert acme.publish("interview_started", payload_for(posting_id)).json()["deliveries"] == 0
    reactivated = acme.integrator.post(f"/api/webhook/activate/{webhook['webhook_id']}").json()
    assert reactivated["is_active"] is True
    assert reactivated["disabled_reason"] is None


def test_webhook_failing_for_too_long_is_disabled_with_the_reason(
    make_server: MakeServer, make_receiver: MakeReceiver, new_database_url: str
) -> None:
    receiver = make_receiver()
    receiver.script("/down", [Reply(500)])
    server = make_server(
        new_database_url,
        env={
            "HOOKLINE_RETRY_SCHEDULE": ",".join(["0.3"] * 20),
            "HOOKLINE_DISABLE_AFTER_HOURS": str(1.5 / 3600),  # 1.5 s
        },
    )
    workspace = Workspace.on(server, "health")
    webhook = workspace.create_webhook(receiver.url("/down"), "down", "interview_started")
    event_id = workspace.publish("interview_started", payload_for("down")).json()["event_id"]

    fetched = eventually(
        lambda: deactivated(workspace, webhook["webhook_id"]),
        timeout=15,
        what="the failing webhook disabled",
    )
    assert fetched["disabled_reason"] == "every delivery attempt failed for 0.000416667 hours"
    event = workspace.integrator.get(f"/api/events/{event_id}").json()
    assert event["deliveries"][0]["status"] == "cancelled"
    assert 4 <= event["deliveries"][0]["attempt_count"] < 20


def test_recover_requeues_failed_deliveries_since_a_time(
    acme: Workspace, receiver: Receiver, path: str, posting_id: str
) -> None:
    receiver.script(path, [Reply(500)])
    webhook = acme.create_webhook(receiver.url(path), posting_id, "interview_started")
    webhook_id = webhook["webhook_id"]
    old = acme.publish("interview_started", payload_for(posting_id, "old")).json()["event_id"]
    acme.wait_for_event(old, "failed")
    since = time.time()  # the old delivery was created before it failed, so before this
    new = acme.publish("interview_started", payload_for(posting_id, "new")).json()["event_id"]
    acme.wait_for_event(new, "failed")
    receiver.script(path, [Reply(200)])

    response = acme.integrator.post(f"/api/webhook/recover/{webhook_id}", params={"since": since})
    assert response.status_code == 202
    assert response.json() == {"recovered": 1}
    acme.wait_for_event(new, "succeeded")
    assert acme.integrator.get(f"/api/events/{old}").json()["deliveries"][0]["status"] == "failed"

    missing = acme.integrator.post(f"/api/webhook/recover/{webhook_id}")
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "since"
    acme.integrator.post(f"/api/webhook/deactivate/{webhook_id}")
    refused = acme.integrator.post(f"/api/webhook/recover/{webhook_id}", params={"since": 0})
    assert refused.status_code == 409
