"""The built-in benchmark receiver: answers 200 to anything and counts what it got.

Run as its own process, ``python -m hookline.bench.counting_server --port P``, so that it has a
core to itself. ``GET /__stats`` reports the count, how many requests repeated a
``webhook-id`` already seen, and the first and last arrival times; ``GET /__arrivals``
maps each ``x-hookline-event-id`` to its first arrival; ``POST /__reset`` starts over.
"""

from __future__ import annotations

import argparse
import time

import uvloop
from aiohttp import web


class Counter:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.count = 0
        self.repeated = 0
        self.first_at: float | None = None
        self.last_at: float | None = None
        self.seen: set[str] = set()
        self.arrivals: dict[str, float] = {}

    def record(self, message_id: str | None, event_id: str | None) -> None:
        now = time.time()
        self.count += 1
        self.first_at = self.first_at or now
        self.last_at = now
        if message_id is not None:
            if message_id in self.seen:
                self.repeated += 1
            self.seen.add(message_id)
        if event_id is not None:
            self.arrivals.setdefault(event_id, now)


def make_app() -> web.Application:
    counter = Counter()

    async def receive(request: web.Request) -> web.Response:
        await request.read()
        counter.record(
            request.headers.get("webhook-id"), request.headers.get("x-hookline-event-id")
        )
        return web.Response(text="ok")

    async def stats(_request: web.Request) -> web.Response:
        return web.json_response(
            {
                "count": counter.count,
                "repeated": counter.repeated,
                "first_at": counter.first_at,
                "last_at": counter.last_at,
            }
        )

    async def arrivals(_request: web.Request) -> web.Response:
        return web.json_response(counter.arrivals)

    async def reset(_request: web.Request) -> web.Response:
        counter.reset()
        return web.json_response({"count": 0})

    app = web.Application(client_max_size=4 * 1024 * 1024)
    app.router.add_get("/__health", stats)
    app.router.add_get("/__stats", stats)
    app.router.add_get("/__arrivals", arrivals)
    app.router.add_post("/__reset", reset)
    app.router.add_route("*", "/{tail:.*}", receive)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvloop.install()
    web.run_app(make_app(), host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
