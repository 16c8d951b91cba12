"""Hookline as a platform for many customers, on both backends: the admin API, publishing
into named workspaces, wildcard subscriptions, per-interview ordering, operational
events and portal links."""

from __future__ import annotations

import json
import time
from itertools import pairwise

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import MakeServer, seed_example, unique
from tests.support.receiver import Receiver, Reply
from tests.support.server import HooklineServer
from tests.support.waiting import eventually
from tests.support.workspace import Workspace


@pytest.fixture(scope="module")
def admin(server: HooklineServer) -> httpx.Client:
    return server.client(server.create_key(None, "admin"))


def _started(posting_id: str, interview_id: str | None = None) -> dict:
    payload = seed_example("interview_started") | {"posting_id": posting_id}
    return payload | ({"interview_id": interview_id} if interview_id else {})


def _new_workspace(server: HooklineServer, admin: httpx.Client) -> tuple[str, Workspace]:
    name = unique("ws").replace("_", "-")
    assert admin.post("/api/admin/workspaces", json={"name": name}).status_code == 201
    keys = {}
    for role in ("integrator", "publisher"):
        created = admin.post(f"/api/admin/workspaces/{name}/keys", json={"role": role})
        assert created.status_code == 201, created.text
        keys[role] = created.json()["key"]
    return name, Workspace(
        name, server.client(keys["integrator"]), server.client(keys["publisher"])
    )


def test_the_operators_walk_through(server: HooklineServer, admin: httpx.Client) -> None:
    name = unique("acme").replace("_", "-")
    created = admin.post("/api/admin/workspaces", json={"name": name})
    assert created.status_code == 201
    assert set(created.json()) == {"name", "created_at"}
    again = admin.post("/api/admin/workspaces", json={"name": name})
    assert again.status_code == 409
    assert again.json()["code"] == "workspace_exists"
    assert admin.post("/api/admin/workspaces", json={"name": "a b/c"}).status_code == 422

    issued = admin.post(
        f"/api/admin/workspaces/{name}/keys", json={"role": "integrator", "label": "crm"}
    )
    assert issued.status_code == 201
    key = issued.json()
    assert set(key) == {"key_id", "key", "role", "workspace", "label", "created_at"}
    assert (key["role"], key["workspace"], key["label"]) == ("integrator", name, "crm")
    assert (
        admin.post(f"/api/admin/workspaces/{name}/keys", json={"role": "admin"}).status_code == 422
    )
    assert (
        admin.post("/api/admin/workspaces/nope-nope/keys", json={"role": "publisher"}).json()[
            "code"
        ]
        == "workspace_not_found"
    )

    with server.client(key["key"]) as integrator:
        assert integrator.get("/api/webhook/all").status_code == 200
        integrator.post(
            "/api/webhook/create",
            json={"posting_id": "p", "url": "https://example.com/h", "event_type": "*"},
        )
        listed = admin.get(f"/api/admin/workspaces/{name}/keys").json()
        assert [k["key_id"] for k in listed] == [key["key_id"]]
        assert "key" not in listed[0]
        assert listed[0]["last_used_at"] is not None
        summary = next(w for w in admin.get("/api/admin/workspaces").json() if w["name"] == name)
        assert (summary["webhooks"], summary["keys"]) == (1, 1)

        revoked = admin.post(f"/api/admin/keys/{key['key_id']}/revoke")
        assert revoked.status_code == 200
        assert integrator.get("/api/webhook/all").status_code == 401
    assert admin.post(f"/api/admin/keys/{key['key_id']}/revoke").status_code == 404


def test_portal_links_sign_in_once(server: HooklineServer, admin: httpx.Client) -> None:
    name, _ = _new_workspace(server, admin)
    link = admin.post(f"/api/admin/workspaces/{name}/portal-link")
    assert link.status_code == 201
    assert 890 < link.json()["expires_at"] - time.time() <= 900
    url = link.json()["url"]
    assert url.startswith(f"{server.base_url}/ui/portal/")
    longer = admin.post(f"/api/admin/workspaces/{name}/portal-link", params={"ttl": 86400})
    assert 86390 < longer.json()["expires_at"] - time.time() <= 86400
    too_long = admin.post(f"/api/admin/workspaces/{name}/portal-link", params={"ttl": 86401})
    assert too_long.status_code == 422

    with httpx.Client() as browser:
        opened = browser.get(url)
        assert opened.status_code == 200
        assert browser.cookies.get("hookline_session")
        page = browser.get(f"{server.base_url}/ui")
        assert page.status_code == 200
        assert "New webhook" in page.text  # an integrator's page of that workspace
    with httpx.Client() as another_browser:
        assert another_browser.get(url).status_code == 401
        assert not another_browser.cookies.get("hookline_session")


def test_publishing_into_named_workspaces(
    server: HooklineServer, admin: httpx.Client, receiver: Receiver
) -> None:
    name, workspace = _new_workspace(server, admin)
    other, _ = _new_workspace(server, admin)
    path, posting_id = "/" + unique("named"), unique("named")
    workspace.create_webhook(receiver.url(path), posting_id, "interview_started")
    body = {"event_type": "interview_started", "payload": _started(posting_id)}

    with server.client(server.create_key(None, "publisher")) as platform:
        missing = platform.post("/api/events", json=body)
        assert missing.status_code == 422
        assert missing.json()["errors"][0]["field"] == "workspace"
        unknown = platform.post("/api/events", json=body | {"workspace": "no-such-ws"})
        assert unknown.status_code == 404
        assert unknown.json()["code"] == "workspace_not_found"
        published = platform.post(
            "/api/events", json=body | {"workspace": name}, headers={"Idempotency-Key": "k1"}
        )
        assert published.status_code == 202
        assert published.json()["deliveries"] == 1
        # Idempotency keys are the workspace's: the same key elsewhere is another event.
        elsewhere = platform.post(
            "/api/events", json=body | {"workspace": other}, headers={"Idempotency-Key": "k1"}
        )
        assert elsewhere.status_code == 202
        assert elsewhere.json()["event_id"] != published.json()["event_id"]
        event = platform.get(f"/api/events/{published.json()['event_id']}")
        assert event.status_code == 200
    receiver.wait_for(path)

    assert admin.post("/api/events", json=body | {"workspace": name}).status_code == 202
    assert workspace.publish("interview_started", _started(posting_id)).status_code == 202
    own = workspace.publisher.post("/api/events", json=body | {"workspace": name})
    assert own.status_code == 202
    foreign = workspace.publisher.post("/api/events", json=body | {"workspace": other})
    assert foreign.status_code == 403
    operational = workspace.publisher.post(
        "/api/events",
        json={"event_type": "delivery_failed", "payload": {}},
    )
    assert operational.status_code == 422


def test_wildcards_match_every_posting_and_type(
    server: HooklineServer, admin: httpx.Client, receiver: Receiver
) -> None:
    _, workspace = _new_workspace(server, admin)
    every = "/" + unique("every")
    any_type = "/" + unique("anytype")
    posting_id = unique("posting")
    everything = workspace.create_webhook(receiver.url(every), "*", "*")
    assert (everything["posting_id"], everything["event_type"]) == ("*", "*")
    workspace.create_webhook(receiver.url(any_type), posting_id, "*")
    fetched = workspace.integrator.get(f"/api/webhook/fetch/{everything['webhook_id']}")
    assert fetched.json()["event_type"] == "*"
    listed = workspace.integrator.get("/api/webhook/all", params={"event_type": "*"}).json()
    assert len(listed) == 2

    for event_type in ("interview_started", "interview_completed", "report_available"):
        payload = seed_example(event_type) | {"posting_id": posting_id}
        assert workspace.publish(event_type, payload).json()["deliveries"] == 2
    other_posting = seed_example("interview_started") | {"posting_id": unique("other")}
    assert workspace.publish("interview_started", other_posting).json()["deliveries"] == 1
    assert len(receiver.wait_for(every, count=4)) == 4
    assert len(receiver.wait_for(any_type, count=3)) == 3


def test_per_interview_ordering_holds_back_the_later_ones(
    server: HooklineServer, admin: httpx.Client, receiver: Receiver
) -> None:
    _, workspace = _new_workspace(server, admin)
    path, posting_id = "/" + unique("ordered"), unique("ordered")
    # The first attempt fails, the retry (0.3 s later) succeeds.
    receiver.script(path, [Reply(500), Reply(200)])
    body = {"posting_id": posting_id, "url": receiver.url(path),
            "event_type": "*", "ordering": "interview"}  # fmt: skip
    created = workspace.integrator.post("/api/webhook/create", json=body)
    assert created.json()["ordering"] == "interview"

    first = workspace.publish("interview_started", _started(posting_id, "INTERVIEW-A"))
    receiver.wait_for(path)  # A's first event failed once; its retry is 0.3 s away
    completed = seed_example("interview_completed") | {
        "posting_id": posting_id, "interview_id": "INTERVIEW-A"
    }  # fmt: skip
    second = workspace.publish("interview_completed", completed)
    other = workspace.publish("interview_started", _started(posting_id, "INTERVIEW-B"))
    requests = receiver.wait_for(path, count=4)
    order = [(json.loads(r.body)["interview_id"], json.loads(r.body).get("workflow_completed"))
             for r in requests]  # fmt: skip
    a_events = [entry for entry in order if entry[0] == "INTERVIEW-A"]
    # A's first event is attempted twice (500, then 200) before A's second is attempted.
    assert a_events == [("INTERVIEW-A", None), ("INTERVIEW-A", None), ("INTERVIEW-A", True)]
    # B is not held back by A's retry.
    assert order.index(("INTERVIEW-B", None)) < order.index(("INTERVIEW-A", True))
    for published in (first, second, other):
        workspace.wait_for_event(published.json()["event_id"], "succeeded")


def test_a_line_waiting_for_its_heads_retry_leaves_the_worker_idle(
    make_server: MakeServer, new_database_url: str, receiver: Receiver
) -> None:
    """Per-interview ordering: while the head of an interview's line waits for its retry,
    the deliveries behind it are not due, so the worker sleeps until the retry instead of
    claiming again and again for the whole delay; once the head succeeds, the next one
    goes at once, not at the next poll."""
    server = make_server(
        database_url=new_database_url,
        env={"HOOKLINE_RETRY_SCHEDULE": "3", "HOOKLINE_POLL_INTERVAL": "5"},
    )
    workspace = Workspace.on(server, unique("ordered"))
    path, posting_id = "/" + unique("ordered"), unique("ordered")
    receiver.script(path, [Reply(500), Reply(200)])
    body = {"posting_id": posting_id, "url": receiver.url(path), "event_type": "*",
            "ordering": "interview"}  # fmt: skip
    assert workspace.integrator.post("/api/webhook/create", json=body).status_code == 200

    workspace.publish("interview_started", _started(posting_id, "INTERVIEW-A"))
    receiver.wait_for(path)  # the head failed; its retry is 3 s away
    completed = seed_example("interview_completed") | {
        "posting_id": posting_id, "interview_id": "INTERVIEW-A"
    }  # fmt: skip
    workspace.publish("interview_completed", completed)
    time.sleep(0.5)
    before = _worker_claims(server)
    time.sleep(1.5)
    assert _worker_claims(server) - before <= 2
    head_retried, behind = receiver.wait_for(path, count=3, timeout=10)[1:]
    assert json.loads(behind.body)["workflow_completed"] is True
    assert behind.at - head_retried.at < 1.0


def _worker_claims(server: HooklineServer) -> float:
    scraped = text_string_to_metric_families(httpx.get(f"{server.base_url}/metrics").text)
    return next(
        sample.value
        for family in scraped
        for sample in family.samples
        if sample.name == "hookline_worker_claims_total"
    )


def test_operational_events_reach_their_subscribers(
    server: HooklineServer, admin: httpx.Client, receiver: Receiver
) -> None:
    _, workspace = _new_workspace(server, admin)
    posting_id = unique("ops")
    watcher = "/" + unique("watcher")
    workspace.create_webhook(receiver.url(watcher), "*", "webhook_disabled")
    failures = "/" + unique("failures")
    workspace.create_webhook(receiver.url(failures), posting_id, "delivery_failed")

    gone_path, failing_path = "/" + unique("gone"), "/" + unique("failing")
    receiver.script(gone_path, [Reply(410)])
    receiver.script(failing_path, [Reply(500)])
    gone = workspace.create_webhook(receiver.url(gone_path), posting_id, "interview_started")
    failing = workspace.create_webhook(
        receiver.url(failing_path), posting_id, "interview_completed"
    )
    workspace.publish("interview_started", _started(posting_id))
    completed = seed_example("interview_completed") | {"posting_id": posting_id}
    failed_event = workspace.publish("interview_completed", completed).json()["event_id"]

    (disabled,) = receiver.wait_for(watcher)
    notice = json.loads(disabled.body)
    assert disabled.headers["x-hookline-event-type"] == "webhook_disabled"
    assert notice["webhook_id"] == gone["webhook_id"]
    assert notice["posting_id"] == posting_id
    assert notice["url"] == receiver.url(gone_path)
    assert notice["event_type"] == "interview_started"
    assert "410" in notice["reason"]

    (failed,) = receiver.wait_for(failures, timeout=15)  # four attempts, 0.3 s apart
    notice = json.loads(failed.body)
    assert failed.headers["x-hookline-event-type"] == "delivery_failed"
    assert notice["event_id"] == failed_event
    assert notice["webhook_id"] == failing["webhook_id"]
    assert (notice["event_type"], notice["posting_id"]) == ("interview_completed", posting_id)
    assert notice["interview_id"] == completed["interview_id"]
    assert (notice["attempts"], notice["last_status_code"]) == (4, 500)


def test_operational_events_never_raise_operational_events(
    server: HooklineServer, admin: httpx.Client, receiver: Receiver
) -> None:
    _, workspace = _new_workspace(server, admin)
    posting_id = unique("loop")
    # A subscriber to every operational event that itself always fails.
    sink = "/" + unique("sink")
    receiver.script(sink, [Reply(500)])
    workspace.create_webhook(receiver.url(sink), "*", "*")
    failing = "/" + unique("failing")
    receiver.script(failing, [Reply(500)])
    workspace.create_webhook(receiver.url(failing), posting_id, "interview_started")
    workspace.publish("interview_started", _started(posting_id))

    # The sink gets the interview event, then a delivery_failed for the failing webhook
    # and one for its own failure; those fail too, and raise nothing more.
    def sink_deliveries() -> list[dict]:
        (webhook,) = [
            w for w in workspace.integrator.get("/api/webhook/all").json()
            if w["url"] == receiver.url(sink)
        ]  # fmt: skip
        path = f"/api/webhook/deliveries/{webhook['webhook_id']}"
        return workspace.integrator.get(path).json()["data"]

    def settled() -> list[dict] | None:
        found = sink_deliveries()
        return found if len(found) >= 3 and all(d["status"] == "failed" for d in found) else None

    # Each outcome and the operational events it raises commit together, so once every
    # delivery the sink has is final, anything they raised would already be listed.
    deliveries = eventually(settled, timeout=20, what="the sink's deliveries")
    assert sorted(d["event_type"] for d in deliveries) == [
        "delivery_failed", "delivery_failed", "interview_started",
    ]  # fmt: skip
    assert len(sink_deliveries()) == 3


def test_per_interview_ordering_holds_with_two_workers(
    postgres,
    make_server,
    make_worker,
    receiver: Receiver,  # type: ignore[no-untyped-def]
) -> None:
    """On PostgreSQL, two workers claiming at once still never send one interview's
    deliveries out of publish order, nor two of them at the same time."""
    # Each worker holds at most four deliveries (two in flight, two in line): with eight
    # interviews' heads due at once, neither can take them all, so both take part.
    server = make_server(
        database_url=postgres.create_database(),
        env={
            "HOOKLINE_RETRY_SCHEDULE": "0.2,0.2,0.2",
            "HOOKLINE_ENDPOINT_CONCURRENCY": "20",
            "HOOKLINE_WORKER_CONCURRENCY": "2",
        },
        serve_args=("--no-worker",),
    )
    workers = [make_worker(server, "one"), make_worker(server, "two")]
    workspace = Workspace.on(server, unique("ordered"))
    path, posting_id = "/" + unique("ordered"), unique("ordered")
    # Slow enough that a second delivery of one interview would overlap the first.
    receiver.script(path, [Reply(200, delay=0.05)])
    body = {"posting_id": posting_id, "url": receiver.url(path), "event_type": "*",
            "ordering": "interview"}  # fmt: skip
    assert workspace.integrator.post("/api/webhook/create", json=body).status_code == 200

    interviews = [f"INTERVIEW-{n}" for n in range(8)]
    for sequence in range(5):
        for interview_id in interviews:
            payload = _started(posting_id, interview_id) | {"sequence": sequence}
            assert workspace.publish("interview_started", payload).status_code == 202
    requests = receiver.wait_for(path, count=40, timeout=30)

    for interview_id in interviews:
        mine = [r for r in requests if json.loads(r.body)["interview_id"] == interview_id]
        assert [json.loads(r.body)["sequence"] for r in mine] == list(range(5))
        # Each arrives only once the one before has been answered (its 50 ms delay).
        gaps = [b.at - a.at for a, b in pairwise(mine)]
        assert min(gaps) >= 0.05, gaps
    assert {r.headers.get("x-hookline-attempt") for r in requests} == {"1"}  # no retries
    assert all("attempt 1 of delivery" in worker.log() for worker in workers)
