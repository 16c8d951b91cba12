"""The sender's per-host clients: a name is resolved and checked by Hookline, the client is
pinned to the checked address, and the pin is resolved and checked again once it is old.
Real sends to a real receiver on loopback."""

from __future__ import annotations

import asyncio

import pytest

from hookline.delivery import sender as sender_module
from hookline.delivery.sender import Sender, SendResult
from hookline.store.queue import ClaimedDelivery
from tests.support.receiver import Receiver


def _delivery_to(url: str, method: str = "post") -> ClaimedDelivery:
    return ClaimedDelivery(
        delivery_id="dlv_pin",
        attempt_count=0,
        event_id="evt_pin",
        event_type="interview_started",
        payload=b'{"event_type":"interview_started","interview_id":"i","timestamp":1.5}',
        webhook_id="webhook_pin",
        url=url,
        http_method=method,
        secret="whsec_" + "A" * 44,
        previous_secret=None,
        previous_secret_expires_at=None,
        created_at=0.0,
        ordering_key=None,
        updated_at=0.0,
    )


def _send_all(allow_private: bool, *urls: str) -> list[SendResult]:
    async def run() -> list[SendResult]:
        sender = Sender(timeout=2, max_connections=4, allow_private_urls=allow_private)
        await sender.start()
        try:
            return [await sender.send(_delivery_to(url)) for url in urls]
        finally:
            await sender.close()

    return asyncio.run(run())


def test_a_name_is_pinned_and_checked_again_when_the_pin_is_old(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sender_module, "DNS_TTL_SECONDS", 0.0)  # every send re-resolves
    url = f"http://localhost:{receiver.port}/pinned"
    results = _send_all(True, url, url, url)
    assert [r.status_code for r in results] == [200, 200, 200], results
    assert len(receiver.at("/pinned")) == 3


def test_a_refreshed_pin_is_checked_like_the_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sender_module, "DNS_TTL_SECONDS", 0.0)
    results = _send_all(False, "http://localhost:9/a", "http://localhost:9/b")
    for result in results:
        assert result.status_code is None
        assert result.error is not None and result.error.startswith("destination refused")


def test_a_name_that_does_not_resolve_is_reported_by_name() -> None:
    (result,) = _send_all(True, "http://no-such-host.invalid/hook")
    assert result.status_code is None
    assert result.error == "name not resolved: no-such-host.invalid"


def test_get_deliveries_carry_the_signed_query(receiver: Receiver) -> None:
    async def run() -> SendResult:
        sender = Sender(timeout=2, max_connections=4, allow_private_urls=True)
        await sender.start()
        try:
            return await sender.send(_delivery_to(receiver.url("/get?x=1"), method="get"))
        finally:
            await sender.close()

    result = asyncio.run(run())
    assert result.status_code == 200
    (received,) = receiver.at("/get")
    assert received.method == "GET"
    assert received.query.startswith("x=1&event_type=interview_started&event_id=evt_pin")
    assert received.headers["webhook-signature"].startswith("v1,")
