"""2,000 events, processes killed with -9 mid-way and restarted: every accepted event is
delivered. On PostgreSQL one API process and two workers; on SQLite the single process."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable

import httpx

from hookline.bench.postgres import PostgresCluster
from tests.conftest import MakeReceiver, MakeServer, MakeWorker, seed_example
from tests.support.receiver import Receiver, Reply
from tests.support.server import HooklineServer
from tests.support.waiting import eventually
from tests.support.workspace import Workspace

EVENTS = 2000
CRASH_ENV = {
    # Short leases, so the killed worker's claims pass to the others within seconds.
    "HOOKLINE_DELIVERY_TIMEOUT": "3",
    "HOOKLINE_LEASE_SECONDS": "5",
    "HOOKLINE_WORKER_CONCURRENCY": "50",
}


def publish(client: httpx.Client, n: int) -> bool:
    """Publish event n; True when the API accepted it (202)."""
    payload = seed_example("interview_started") | {"posting_id": "crash", "interview_id": str(n)}
    try:
        response = client.post(
            "/api/events", json={"event_type": "interview_started", "payload": payload}
        )
    except httpx.HTTPError:
        return False
    return response.status_code == 202


def register(server: HooklineServer, receiver: Receiver) -> str:
    """A webhook to the counting receiver; a publisher key for the workspace."""
    workspace = Workspace.on(server, "crash")
    workspace.create_webhook(receiver.url("/count"), "crash", "interview_started")
    return workspace.publisher.headers["X-API-KEY"]


def publish_through_kills(
    server: HooklineServer, publisher_key: str, kills: dict[int, Callable[[], None]]
) -> set[str]:
    """Publish EVENTS events, running ``kills[n]`` before event n; the ones accepted."""
    client = server.client(publisher_key)
    accepted: set[str] = set()
    for n in range(EVENTS):
        if n in kills:
            kills[n]()
            client = server.client(publisher_key)  # the server may have restarted
        if publish(client, n):
            accepted.add(str(n))
    return accepted


def assert_all_delivered(receiver: Receiver, accepted: set[str], in_flight_bound: int) -> None:
    def delivered() -> Counter[str]:
        return Counter(json.loads(r.body)["interview_id"] for r in receiver.at("/count"))

    def all_arrived() -> Counter[str] | None:
        counts = delivered()
        return counts if accepted <= set(counts) else None

    counts = eventually(
        all_arrived,
        timeout=60,
        interval=0.2,
        what=lambda: f"{len(accepted - set(delivered()))} accepted, never delivered",
    )
    duplicates = sum(counts.values()) - len(counts)
    print(f"\n{len(accepted)} accepted, {len(counts)} delivered, {duplicates} delivered twice")
    assert duplicates <= in_flight_bound


def test_postgresql_api_and_worker_killed_mid_way(
    make_server: MakeServer,
    make_worker: MakeWorker,
    make_receiver: MakeReceiver,
    postgres: PostgresCluster,
) -> None:
    receiver = make_receiver()
    receiver.script("/count", [Reply(200, delay=0.005)])
    server = make_server(postgres.create_database(), env=CRASH_ENV, serve_args=("--no-worker",))
    workers = [make_worker(server, "a"), make_worker(server, "b")]
    publisher_key = register(server, receiver)

    def restart_api_and_worker() -> None:
        server.kill()
        server.start()
        workers[0].start()

    accepted = publish_through_kills(
        server,
        publisher_key,
        {EVENTS // 3: workers[0].kill, EVENTS // 2: restart_api_and_worker},
    )

    assert len(accepted) == EVENTS
    # Only what the killed worker had claimed (its concurrency) may arrive twice.
    assert_all_delivered(receiver, accepted, in_flight_bound=50)


def test_sqlite_process_killed_mid_way(
    make_server: MakeServer, make_receiver: MakeReceiver
) -> None:
    receiver = make_receiver()
    receiver.script("/count", [Reply(200, delay=0.005)])
    server = make_server(env=CRASH_ENV)
    publisher_key = register(server, receiver)

    def restart() -> None:
        server.kill()
        server.start()

    accepted = publish_through_kills(server, publisher_key, {EVENTS // 2: restart})

    assert len(accepted) == EVENTS
    assert_all_delivered(receiver, accepted, in_flight_bound=50)
