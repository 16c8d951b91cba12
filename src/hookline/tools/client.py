"""A small client for Hookline's HTTP API, for the command line (HOOKLINE_URL,
HOOKLINE_API_KEY)."""

from __future__ import annotations

import os
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8000"


class ApiError(Exception):
    """What went wrong, and what to do about it, in a sentence for people."""


class HooklineClient:
    def __init__(self, url: str | None = None, api_key: str | None = None) -> None:
        self.url = (url or os.environ.get("HOOKLINE_URL") or DEFAULT_URL).rstrip("/")
        key = api_key or os.environ.get("HOOKLINE_API_KEY")
        if not key:
            raise ApiError(
                "no API key: set HOOKLINE_API_KEY (create one with "
                "`hookline keys create --workspace NAME --role integrator|publisher`)"
            )
        self._http = httpx.Client(base_url=self.url, headers={"X-API-KEY": key}, timeout=30)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError:
            raise ApiError(
                f"cannot reach Hookline at {self.url}: is it running? (`make run`, or set "
                "HOOKLINE_URL)"
            ) from None
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            hint = {
                401: " (check HOOKLINE_API_KEY)",
                403: " (this needs a publisher key)",
            }.get(response.status_code, "")
            raise ApiError(f"{detail} (HTTP {response.status_code}){hint}")
        return response.json()

    # --- webhooks ---

    def create_webhook(
        self, posting_id: str, url: str, event_type: str, http_method: str = "post"
    ) -> dict[str, Any]:
        body = {
            "posting_id": posting_id,
            "url": url,
            "event_type": event_type,
            "http_method": http_method,
        }
        return self.request("POST", "/api/webhook/create", json=body)

    def list_webhooks(self, **filters: str | None) -> list[dict[str, Any]]:
        params = {k: v for k, v in filters.items() if v}
        return self.request("GET", "/api/webhook/all", params=params)

    def webhook_call(self, method: str, action: str, webhook_id: str, **kw: Any) -> Any:
        return self.request(method, f"/api/webhook/{action}/{webhook_id}", **kw)

    # --- events ---

    def publish(
        self, event_type: str, payload: dict[str, Any], idempotency_key: str | None = None
    ) -> dict[str, Any]:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        body = {"event_type": event_type, "payload": payload}
        return self.request("POST", "/api/events", json=body, headers=headers)

    def event(self, event_id: str) -> dict[str, Any]:
        return self.request("GET", f"/api/events/{event_id}")
