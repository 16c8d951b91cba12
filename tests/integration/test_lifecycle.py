"""Data that does not grow forever, and a graceful SIGTERM that leaves nothing locked."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from hookline.store.database import create_engine
from hookline.store.schema import attempts, deliveries
from tests.conftest import MakeReceiver, MakeServer, MakeWorker, seed_example
from tests.support.receiver import Reply
from tests.support.waiting import eventually
from tests.support.workspace import Workspace


def query_database(database_url: str, query):  # type: ignore[no-untyped-def]
    async def run():  # type: ignore[no-untyped-def]
        engine = create_engine(database_url)
        try:
            async with engine.connect() as conn:
                return (await conn.execute(query)).all()
        finally:
            await engine.dispose()

    return asyncio.run(run())


def payload(posting_id: str, interview_id: str) -> dict:
    return seed_example("interview_started") | {
        "posting_id": posting_id,
        "interview_id": interview_id,
    }


def test_events_and_attempts_past_retention_are_purged(
    make_server: MakeServer, make_receiver: MakeReceiver, new_database_url: str
) -> None:
    receiver = make_receiver()
    receiver.script("/pending", [Reply(500)])
    server = make_server(
        new_database_url,
        env={
            "HOOKLINE_RETENTION_DAYS": str(3 / 86400),  # 3 s
            "HOOKLINE_PURGE_INTERVAL": "0.5",
            "HOOKLINE_RETRY_SCHEDULE": "3600",  # the failing delivery stays pending
        },
    )
    workspace = Workspace.on(server, "retention")
    integrator = workspace.integrator
    for path, posting in (("/done", "done"), ("/pending", "pending")):
        workspace.create_webhook(receiver.url(path), posting, "interview_started")
    done = [
        workspace.publish("interview_started", payload("done", str(n))).json()["event_id"]
        for n in range(30)
    ]
    pending = workspace.publish("interview_started", payload("pending", "p")).json()["event_id"]
    receiver.wait_for("/done", 30)
    assert integrator.get(f"/api/events/{done[0]}").status_code == 200

    eventually(
        lambda: all(integrator.get(f"/api/events/{e}").status_code == 404 for e in done),
        timeout=15,
        interval=0.3,
        what="old events purged",
    )

    # The pending delivery's attempt was made after the last old event was stored, so it
    # may pass the cutoff a moment later: wait for it rather than race the purge.
    eventually(
        lambda: query_database(new_database_url, select(func.count(attempts.c.id)))[0][0] == 0,
        timeout=15,
        interval=0.3,
        what="old attempt purged",
    )
    # The event whose delivery is still pending is kept; its old attempt is not.
    assert integrator.get(f"/api/events/{pending}").status_code == 200
    (remaining_deliveries,) = query_database(new_database_url, select(func.count(deliveries.c.id)))
    assert remaining_deliveries[0] == 1


def test_sigterm_finishes_in_flight_attempts_and_leaves_nothing_locked(
    make_server: MakeServer,
    make_worker: MakeWorker,
    make_receiver: MakeReceiver,
    new_database_url: str,
) -> None:
    receiver = make_receiver()
    receiver.script("/slow", [Reply(200, delay=2)])
    server = make_server(
        new_database_url,
        env={"HOOKLINE_ENDPOINT_CONCURRENCY": "1"},
        serve_args=("--no-worker",),
    )
    worker = make_worker(server, "graceful")
    workspace = Workspace.on(server, "graceful")
    workspace.create_webhook(receiver.url("/slow"), "slow", "interview_started")
    for n in range(5):
        assert workspace.publish("interview_started", payload("slow", str(n))).status_code == 202
    receiver.wait_for("/slow", 1)

    assert worker.stop(timeout=30) == 0

    rows = query_database(
        new_database_url,
        select(deliveries.c.status, deliveries.c.locked_until, deliveries.c.attempt_count),
    )
    statuses = sorted(status for status, _, _ in rows)
    assert statuses == ["pending"] * 4 + ["succeeded"]  # the one in flight finished
    assert all(locked is None for _, locked, _ in rows), "nothing is left locked"
    assert len(receiver.at("/slow")) == 1
