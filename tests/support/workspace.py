"""A workspace's two API clients, on any running Hookline: the integrator's and the
platform's (publisher)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests.support.server import HooklineServer
from tests.support.waiting import eventually


@dataclass
class Workspace:
    name: str
    integrator: httpx.Client
    publisher: httpx.Client

    @classmethod
    def on(cls, server: HooklineServer, name: str) -> Workspace:
        """New integrator and publisher keys of workspace ``name`` (created if new)."""
        return cls(
            name,
            server.client(server.create_key(name, "integrator")),
            server.client(server.create_key(name, "publisher")),
        )

    def create_webhook(
        self, url: str, posting_id: str, event_type: str, http_method: str | None = None
    ) -> dict[str, Any]:
        body = {"posting_id": posting_id, "url": url, "event_type": event_type}
        if http_method:
            body["http_method"] = http_method
        response = self.integrator.post("/api/webhook/create", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    def publish(
        self, event_type: str, payload: dict[str, Any], idempotency_key: str | None = None
    ) -> httpx.Response:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return self.publisher.post(
            "/api/events", json={"event_type": event_type, "payload": payload}, headers=headers
        )

    def event(self, event_id: str) -> dict[str, Any]:
        response = self.integrator.get(f"/api/events/{event_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def wait_for_event(self, event_id: str, status: str, timeout: float = 10.0) -> dict[str, Any]:
        """The event, once it has deliveries and every one of them has ``status``."""

        def settled() -> dict[str, Any] | None:
            event = self.event(event_id)
            deliveries = event["deliveries"]
            return event if deliveries and all(d["status"] == status for d in deliveries) else None

        return eventually(
            settled,
            timeout,
            interval=0.1,
            what=lambda: f"every delivery of {event_id} {status}: {self.event(event_id)}",
        )
