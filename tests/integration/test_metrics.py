"""``GET /metrics``: Prometheus text with what this process did and the backlog."""

from __future__ import annotations

import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import MakeReceiver, MakeServer, MakeWorker, seed_example
from tests.support.receiver import Receiver, Reply
from tests.support.server import HooklineServer
from tests.support.waiting import eventually
from tests.support.workspace import Workspace

GAUGES = (
    "hookline_deliveries_pending",
    "hookline_deliveries_due",
    "hookline_oldest_due_delivery_age_seconds",
)


def scrape(server: HooklineServer) -> dict[tuple[str, tuple], float]:
    response = httpx.get(f"{server.base_url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def gauges(server: HooklineServer) -> dict[str, float]:
    scraped = scrape(server)
    return {name: scraped[(name, ())] for name in GAUGES}


def test_metrics_count_publishes_attempts_outcomes_and_latency(
    server: HooklineServer, acme: Workspace, receiver: Receiver, path: str, posting_id: str
) -> None:
    before = scrape(server)
    receiver.script(path, [Reply(500), Reply(200)])
    acme.create_webhook(receiver.url(path), posting_id, "interview_completed")
    payload = seed_example("interview_completed") | {"posting_id": posting_id}
    event_id = acme.publish("interview_completed", payload).json()["event_id"]
    # The worker counts an attempt before it records the attempt's outcome.
    acme.wait_for_event(event_id, "succeeded")
    after = scrape(server)

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert grew("hookline_events_published_total", event_type="interview_completed") >= 1
    assert grew("hookline_attempts_total", status_class="5xx") >= 1
    assert grew("hookline_attempts_total", status_class="2xx") >= 1
    assert grew("hookline_deliveries_finished_total", outcome="succeeded") >= 1
    assert grew("hookline_delivery_latency_seconds_count") >= 1
    assert grew("hookline_worker_claims_total") >= 1


def test_backlog_gauges_count_the_installations_pending_and_due_deliveries(
    make_server: MakeServer,
    make_worker: MakeWorker,
    make_receiver: MakeReceiver,
    new_database_url: str,
) -> None:
    """An API-only server on a database of its own: what it accepts stays due, exactly
    counted, until a worker starts; then only the delivery waiting for its retry is left."""
    receiver = make_receiver()
    receiver.script("/down", [Reply(500)])
    server = make_server(
        new_database_url,
        env={"HOOKLINE_RETRY_SCHEDULE": "3600"},  # the failed delivery waits an hour
        serve_args=("--no-worker",),
    )
    workspace = Workspace.on(server, "backlog")
    for path in ("/up", "/down"):
        workspace.create_webhook(receiver.url(path), path.strip("/"), "interview_started")
    assert gauges(server) == dict.fromkeys(GAUGES, 0.0)

    def publish(posting_id: str) -> str:
        payload = seed_example("interview_started") | {"posting_id": posting_id}
        published = workspace.publish("interview_started", payload)
        assert published.status_code == 202, published.text
        return published.json()["event_id"]

    published_from = time.time()
    ups = [publish("up"), publish("up")]
    down = publish("down")
    published_by = time.time()
    scraped_from = time.time()
    due = gauges(server)
    scraped_by = time.time()

    assert due["hookline_deliveries_pending"] == 3
    assert due["hookline_deliveries_due"] == 3
    age = due["hookline_oldest_due_delivery_age_seconds"]
    assert scraped_from - published_by <= age <= scraped_by - published_from
    # Nothing sends them: the oldest one's wait grows.
    eventually(
        lambda: gauges(server)["hookline_oldest_due_delivery_age_seconds"] >= age + 0.5,
        what="the oldest due delivery's age to grow",
    )
    assert receiver.requests == []

    make_worker(server, "backlog")
    receiver.wait_for("/up", 2)
    receiver.wait_for("/down", 1)
    for up in ups:
        workspace.wait_for_event(up, "succeeded")
    eventually(
        lambda: workspace.event(down)["deliveries"][0]["attempt_count"] == 1,
        what="the failed attempt recorded",
    )

    assert gauges(server) == {
        "hookline_deliveries_pending": 1,  # the one waiting for its retry
        "hookline_deliveries_due": 0,
        "hookline_oldest_due_delivery_age_seconds": 0.0,
    }
    assert workspace.event(down)["deliveries"][0]["status"] == "pending"
