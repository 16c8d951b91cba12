"""Sending claimed deliveries through a real Sender, for tests of the sending path alone."""

from __future__ import annotations

import asyncio

from hookline.delivery.sender import Sender, SendResult
from hookline.store.queue import ClaimedDelivery


def claimed_delivery(url: str, method: str = "post") -> ClaimedDelivery:
    return ClaimedDelivery(
        delivery_id="dlv_send",
        attempt_count=0,
        event_id="evt_send",
        event_type="interview_started",
        payload=b'{"event_type":"interview_started","interview_id":"i","timestamp":1.5}',
        webhook_id="webhook_send",
        url=url,
        http_method=method,
        secret="whsec_" + "A" * 44,
        previous_secret=None,
        previous_secret_expires_at=None,
        created_at=0.0,
        ordering_key=None,
        updated_at=0.0,
    )


def send_all(allow_private: bool, *urls: str, method: str = "post") -> list[SendResult]:
    """Each URL's attempt in turn, through one sender started for them (timeout 2 s)."""

    async def run() -> list[SendResult]:
        sender = Sender(timeout=2, max_connections=4, allow_private_urls=allow_private)
        await sender.start()
        try:
            return [await sender.send(claimed_delivery(url, method)) for url in urls]
        finally:
            await sender.close()

    return asyncio.run(run())
