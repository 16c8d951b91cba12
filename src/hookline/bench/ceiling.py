"""The ceiling: a bare aiohttp + uvloop client posting signed payloads as fast as it can.

One shared session, a pool as large as the concurrency, each request HMAC-signed the way
Hookline signs. Run as its own process:
``python -m hookline.bench.ceiling --url U --count N --concurrency C``.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import aiohttp
import uvloop

from hookline.delivery.signing import sign
from hookline.domain.events import EventType, encode_payload, sample_payload
from hookline.domain.webhooks import new_secret


async def post_all(url: str, body: bytes, count: int, concurrency: int) -> None:
    secret = new_secret()
    remaining = iter(range(count))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def sender() -> None:
            for n in remaining:
                message_id, now = f"msg_{n}", int(time.time())
                headers = {
                    "content-type": "application/json",
                    "webhook-id": message_id,
                    "webhook-timestamp": str(now),
                    "webhook-signature": sign(secret, message_id, now, body),
                }
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()

        await asyncio.gather(*(sender() for _ in range(concurrency)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    body = encode_payload(sample_payload(EventType.REPORT_AVAILABLE))
    uvloop.run(post_all(args.url, body, args.count, args.concurrency))


if __name__ == "__main__":
    main()
