"""``GET /metrics``: Prometheus text with what this process did and the backlog."""

from __future__ import annotations

import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import seed_example
from tests.support.receiver import Receiver, Reply
from tests.support.server import HooklineServer
from tests.support.workspace import Workspace


def scrape(server: HooklineServer) -> dict[tuple[str, tuple], float]:
    response = httpx.get(f"{server.base_url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def test_metrics_count_publishes_attempts_outcomes_and_latency(
    server: HooklineServer, acme: Workspace, receiver: Receiver, path: str, posting_id: str
) -> None:
    before = scrape(server)
    receiver.script(path, [Reply(500), Reply(200)])
    acme.create_webhook(receiver.url(path), posting_id, "interview_completed")
    payload = seed_example("interview_completed") | {"posting_id": posting_id}
    event_id = acme.publish("interview_completed", payload).json()["event_id"]
    deadline = time.monotonic() + 10
    while acme.integrator.get(f"/api/events/{event_id}").json()["deliveries"][0]["status"] != (
        "succeeded"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(0.2)
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
    for gauge in (
        "hookline_deliveries_pending",
        "hookline_deliveries_due",
        "hookline_oldest_due_delivery_age_seconds",
    ):
        assert (gauge, ()) in after
        assert after[(gauge, ())] >= 0
