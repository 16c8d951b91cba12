"""Least privilege: every route in the OpenAPI document, called with every role, answers
exactly as the route-by-role table says. A route added later without a row here fails."""

from __future__ import annotations

import re

from tests.conftest import seed_example
from tests.support.server import HooklineServer
from tests.support.workspace import Workspace

# The README's table: who may call what. Everyone else gets 403.
ALLOWED = {
    ("POST", "/api/webhook/create"): {"integrator"},
    ("GET", "/api/webhook/fetch/{webhook_id}"): {"integrator"},
    ("GET", "/api/webhook/all"): {"integrator"},
    ("POST", "/api/webhook/deactivate/{webhook_id}"): {"integrator"},
    ("POST", "/api/webhook/activate/{webhook_id}"): {"integrator"},
    ("GET", "/api/webhook/secret/{webhook_id}"): {"integrator"},
    ("POST", "/api/webhook/rotate-secret/{webhook_id}"): {"integrator"},
    ("POST", "/api/webhook/test/{webhook_id}"): {"integrator"},
    ("GET", "/api/webhook/deliveries/{webhook_id}"): {"integrator"},
    ("POST", "/api/webhook/redeliver/{delivery_id}"): {"integrator"},
    ("POST", "/api/webhook/recover/{webhook_id}"): {"integrator"},
    ("POST", "/api/events"): {"publisher", "admin"},
    ("GET", "/api/events/{event_id}"): {"integrator", "publisher"},
    ("GET", "/api/event-types"): {"integrator", "publisher", "admin"},
    ("POST", "/api/admin/workspaces"): {"admin"},
    ("GET", "/api/admin/workspaces"): {"admin"},
    ("POST", "/api/admin/workspaces/{name}/keys"): {"admin"},
    ("GET", "/api/admin/workspaces/{name}/keys"): {"admin"},
    ("POST", "/api/admin/keys/{key_id}/revoke"): {"admin"},
    ("POST", "/api/admin/workspaces/{name}/portal-link"): {"admin"},
}
ROLES = ("integrator", "publisher", "admin")
BODIES = {
    ("POST", "/api/webhook/create"): {
        "posting_id": "roles",
        "url": "https://example.com/hook",
        "event_type": "interview_started",
    },
    ("POST", "/api/events"): {
        "event_type": "interview_started",
        "payload": seed_example("interview_started"),
    },
    ("POST", "/api/admin/workspaces"): {"name": "roles-matrix"},
    ("POST", "/api/admin/workspaces/{name}/keys"): {"role": "integrator"},
}


def _operations(server: HooklineServer) -> list[tuple[str, str, dict]]:
    with server.client() as anonymous:
        document = anonymous.get("/openapi.json").json()
    return [
        (method.upper(), path, operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if path.startswith("/api/")
    ]


def test_every_api_route_has_a_row(server: HooklineServer) -> None:
    documented = {(method, path) for method, path, _ in _operations(server)}
    assert documented == set(ALLOWED)


def test_the_document_declares_each_routes_roles(server: HooklineServer) -> None:
    for method, path, operation in _operations(server):
        assert set(operation["x-hookline-roles"]) == ALLOWED[(method, path)], (method, path)


def test_each_role_gets_exactly_its_routes(server: HooklineServer, acme: Workspace) -> None:
    admin = server.client(server.create_key(None, "admin"))
    clients = {"integrator": acme.integrator, "publisher": acme.publisher, "admin": admin}
    for method, path, _ in _operations(server):
        concrete = re.sub(r"\{[^}]+\}", "x_unknown", path)
        params = {"since": "0"} if path.endswith("recover/{webhook_id}") else None
        for role in ROLES:
            response = clients[role].request(
                method, concrete, json=BODIES.get((method, path)), params=params
            )
            if role in ALLOWED[(method, path)]:
                assert response.status_code not in (401, 403), (role, method, path, response.text)
            else:
                assert response.status_code == 403, (role, method, path, response.text)
                assert response.json()["code"] == "forbidden"


def test_a_publisher_cannot_read_a_secret_even_of_a_real_webhook(acme: Workspace) -> None:
    webhook = acme.create_webhook("https://example.com/hook", "roles-secret", "interview_started")
    response = acme.publisher.get(f"/api/webhook/secret/{webhook['webhook_id']}")
    assert response.status_code == 403
    assert webhook["secret"] not in response.text
