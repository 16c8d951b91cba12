"""Sending claimed deliveries through a real Sender, for tests of the sending path alone."""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque

from hookline.delivery.sender import Sender, SendResult, Sent
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


class AwaitedSender:
    """A real Sender whose attempts are awaited one by one, as a test wants them: each
    send's future is settled from the batches the sender hands back."""

    def __init__(
        self,
        allow_private_urls: bool = True,
        timeout: float = 2,
        concurrency: int = 4,
        endpoint_concurrency: int | None = None,
    ) -> None:
        self.sender = Sender(
            timeout,
            concurrency,
            endpoint_concurrency or concurrency,
            allow_private_urls,
            on_sent=self._settle,
        )
        # None for a delivery given back unsent.
        self._waiting: defaultdict[int, deque[asyncio.Future[SendResult | None]]] = defaultdict(
            deque
        )
        self.handed_back: list[str] = []  # each delivery's id, each time it came back

    async def start(self) -> None:
        await self.sender.start()

    async def close(self) -> None:
        await self.sender.close()

    def send(self, delivery: ClaimedDelivery) -> asyncio.Future[SendResult | None]:
        future = asyncio.get_running_loop().create_future()
        self._waiting[id(delivery)].append(future)
        self.sender.submit(delivery)
        return future

    def _settle(self, batch: Sent) -> None:
        for delivery, result in batch:
            self.handed_back.append(delivery.delivery_id)
            future = self._waiting[id(delivery)].popleft()
            if not future.done():  # a test may have given up on it
                future.set_result(result)


def send_all(allow_private: bool, *urls: str, method: str = "post") -> list[SendResult]:
    """Each URL's attempt in turn, through one sender started for them (timeout 2 s)."""

    async def send(sender: AwaitedSender, url: str) -> SendResult:
        # Bounded: an attempt ends within the sender's timeout, or a fault ends it at once.
        result = await asyncio.wait_for(sender.send(claimed_delivery(url, method)), 10)
        assert result is not None, "nothing held this sender"
        return result

    async def run() -> list[SendResult]:
        sender = AwaitedSender(allow_private)
        await sender.start()
        try:
            return [await send(sender, url) for url in urls]
        finally:
            await sender.close()

    return asyncio.run(run())
