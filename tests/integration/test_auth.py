"""Every /api route needs a valid key; workspaces never see each other; only publishers publish."""

from __future__ import annotations

import pytest

from tests.conftest import seed_example
from tests.support.receiver import Receiver
from tests.support.server import HooklineServer
from tests.support.workspace import Workspace

ROUTES = [
    ("POST", "/api/webhook/create"),
    ("GET", "/api/webhook/fetch/webhook_x"),
    ("GET", "/api/webhook/all"),
    ("POST", "/api/webhook/deactivate/webhook_x"),
    ("POST", "/api/webhook/activate/webhook_x"),
    ("GET", "/api/webhook/secret/webhook_x"),
    ("POST", "/api/webhook/rotate-secret/webhook_x"),
    ("POST", "/api/webhook/test/webhook_x"),
    ("GET", "/api/webhook/deliveries/webhook_x"),
    ("POST", "/api/webhook/redeliver/dlv_x"),
    ("POST", "/api/events"),
    ("GET", "/api/events/evt_x"),
    ("GET", "/api/event-types"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_missing_or_unknown_key_is_401(server: HooklineServer, method: str, path: str) -> None:
    with server.client() as anonymous:
        missing = anonymous.request(method, path)
        unknown = anonymous.request(method, path, headers={"X-API-KEY": "hl_not-a-key"})
    assert missing.status_code == 401
    assert missing.json() == {"code": "missing_api_key", "detail": "missing X-API-KEY header"}
    assert unknown.status_code == 401
    assert unknown.json() == {"code": "invalid_api_key", "detail": "invalid or revoked API key"}


def test_revoked_key_is_401(server: HooklineServer) -> None:
    key = server.create_key("revocation")
    with server.client(key) as client:
        assert client.get("/api/webhook/all").status_code == 200
        key_id = next(
            line.split()[0]
            for line in server.cli("keys", "list").splitlines()
            if "revocation" in line
        )
        assert "revoked" in server.cli("keys", "revoke", key_id)
        response = client.get("/api/webhook/all")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_api_key"


def test_keys_list_never_shows_a_key(server: HooklineServer) -> None:
    key = server.create_key("listing")
    listing = server.cli("keys", "list")
    assert "listing" in listing
    assert key not in listing


def test_only_publisher_keys_publish(acme: Workspace) -> None:
    body = {"event_type": "interview_started", "payload": seed_example("interview_started")}
    response = acme.integrator.post("/api/events", json=body)
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


def test_another_workspaces_resources_are_404(
    acme: Workspace, globex: Workspace, receiver: Receiver, posting_id: str, path: str
) -> None:
    webhook = acme.create_webhook(receiver.url(path), posting_id, "interview_started")
    webhook_id = webhook["webhook_id"]
    payload = seed_example("interview_started") | {"posting_id": posting_id}
    event_id = acme.publish("interview_started", payload).json()["event_id"]
    receiver.wait_for(path)
    delivery_id = acme.integrator.get(f"/api/webhook/deliveries/{webhook_id}").json()["data"][0][
        "delivery_id"
    ]

    for method, path in [
        ("GET", f"/api/webhook/fetch/{webhook_id}"),
        ("POST", f"/api/webhook/deactivate/{webhook_id}"),
        ("POST", f"/api/webhook/activate/{webhook_id}"),
        ("GET", f"/api/webhook/secret/{webhook_id}"),
        ("POST", f"/api/webhook/rotate-secret/{webhook_id}"),
        ("POST", f"/api/webhook/test/{webhook_id}"),
        ("GET", f"/api/webhook/deliveries/{webhook_id}"),
        ("POST", f"/api/webhook/redeliver/{delivery_id}"),
        ("GET", f"/api/events/{event_id}"),
    ]:
        response = globex.integrator.request(method, path)
        assert response.status_code == 404, (method, path, response.text)

    assert globex.integrator.get("/api/webhook/all", params={"posting_id": posting_id}).json() == []
    # An event published in the other workspace reaches none of acme's webhooks.
    published = globex.publish("interview_started", payload)
    assert published.json()["deliveries"] == 0
    # And acme's webhook is untouched by globex's attempts.
    assert acme.integrator.get(f"/api/webhook/fetch/{webhook_id}").json()["is_active"] is True
