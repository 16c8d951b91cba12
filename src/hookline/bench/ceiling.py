"""The ceilings: a bare client posting signed payloads as fast as it can, one per HTTP client
Hookline could send with.

Each signs every request the way Hookline does and keeps ``concurrency`` requests in flight
over a pool as large. Run as its own process:
``python -m hookline.bench.ceiling --client C --url U --count N --concurrency C``.

- ``aiohttp``: aiohttp + uvloop, one shared session (the reference the targets name).
- ``pyreqwest``: pyreqwest (Rust's reqwest/hyper under asyncio) + uvloop, one client.
- ``pycurl``: libcurl's multi interface driven by the asyncio (uvloop) event loop through
  its socket and timer callbacks, as a sender inside Hookline's worker would have to be.
- ``pycurl-select``: the same multi handle driven by a plain ``select`` loop, no asyncio at
  all: what Hookline's sender (libcurl on a thread of its own) can reach at most.
(pyreqwest is optional: ``pip install 'hookline[bench-candidates]'``.)
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import uvloop

from hookline.delivery.signing import sign
from hookline.domain.events import EventType, encode_payload, sample_payload
from hookline.domain.webhooks import new_secret

CLIENTS = ("aiohttp", "pyreqwest", "pycurl", "pycurl-select")


def signed_headers(secret: str, body: bytes) -> Callable[[int], dict[str, str]]:
    def headers(n: int) -> dict[str, str]:
        message_id, now = f"msg_{n}", int(time.time())
        return {
            "content-type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(now),
            "webhook-signature": sign(secret, message_id, now, body),
        }

    return headers


async def post_with_aiohttp(
    url: str, body: bytes, numbers: Iterator[int], concurrency: int, headers_for
) -> None:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def sender() -> None:
            for n in numbers:
                async with session.post(url, data=body, headers=headers_for(n)) as response:
                    await response.read()

        await asyncio.gather(*(sender() for _ in range(concurrency)))


async def post_with_pyreqwest(
    url: str, body: bytes, numbers: Iterator[int], concurrency: int, headers_for
) -> None:
    from pyreqwest.client import ClientBuilder

    client = (
        ClientBuilder()
        .max_connections(concurrency)
        .timeout(timedelta(seconds=30))
        .follow_redirects(False)
        .build()
    )
    async with client:

        async def sender() -> None:
            for n in numbers:
                request = client.post(url).headers(headers_for(n)).body_bytes(body).build()
                response = await request.send()
                await response.bytes()

        await asyncio.gather(*(sender() for _ in range(concurrency)))


def _curl_handles(url: str, body: bytes, count: int) -> list:
    import pycurl

    handles = []
    for _ in range(count):
        handle = pycurl.Curl()
        handle.setopt(pycurl.URL, url)
        handle.setopt(pycurl.POST, 1)
        handle.setopt(pycurl.POSTFIELDS, body)
        handle.setopt(pycurl.WRITEFUNCTION, len)  # read and drop the reply
        handle.setopt(pycurl.TIMEOUT, 30)
        handles.append(handle)
    return handles


async def post_with_pycurl(
    url: str, body: bytes, numbers: Iterator[int], concurrency: int, headers_for
) -> None:
    import pycurl

    loop = asyncio.get_running_loop()
    multi = pycurl.CurlMulti()
    multi.setopt(pycurl.M_MAX_TOTAL_CONNECTIONS, concurrency)
    done: dict[object, asyncio.Future[None]] = {}
    timer: list[asyncio.TimerHandle | None] = [None]

    def act(fd: int, events: int) -> None:
        while multi.socket_action(fd, events)[0] == pycurl.E_CALL_MULTI_PERFORM:
            pass
        while True:
            queued, finished, failed = multi.info_read()
            for handle in finished:
                done.pop(handle).set_result(None)
            for handle, _code, message in failed:
                done.pop(handle).set_exception(OSError(message))
            if not queued:
                break

    def on_socket(what: int, fd: int, _multi: object, _data: object) -> None:
        if what == pycurl.POLL_REMOVE:
            loop.remove_reader(fd)
            loop.remove_writer(fd)
            return
        if what & pycurl.POLL_IN:
            loop.add_reader(fd, act, fd, pycurl.CSELECT_IN)
        else:
            loop.remove_reader(fd)
        if what & pycurl.POLL_OUT:
            loop.add_writer(fd, act, fd, pycurl.CSELECT_OUT)
        else:
            loop.remove_writer(fd)

    def on_timer(ms: int) -> None:
        if timer[0] is not None:
            timer[0].cancel()
        timer[0] = None if ms < 0 else loop.call_later(ms / 1000, act, pycurl.SOCKET_TIMEOUT, 0)

    multi.setopt(pycurl.M_SOCKETFUNCTION, on_socket)
    multi.setopt(pycurl.M_TIMERFUNCTION, on_timer)

    async def sender(handle: pycurl.Curl) -> None:
        for n in numbers:
            handle.setopt(pycurl.HTTPHEADER, [f"{k}: {v}" for k, v in headers_for(n).items()])
            finished = done[handle] = loop.create_future()
            multi.add_handle(handle)
            await finished
            multi.remove_handle(handle)

    await asyncio.gather(*(sender(h) for h in _curl_handles(url, body, concurrency)))
    multi.close()


def post_with_pycurl_select(
    url: str, body: bytes, numbers: Iterator[int], concurrency: int, headers_for
) -> None:
    import pycurl

    multi = pycurl.CurlMulti()
    multi.setopt(pycurl.M_MAX_TOTAL_CONNECTIONS, concurrency)
    idle = _curl_handles(url, body, concurrency)

    def start(handle: pycurl.Curl) -> bool:
        n = next(numbers, None)
        if n is None:
            return False
        handle.setopt(pycurl.HTTPHEADER, [f"{k}: {v}" for k, v in headers_for(n).items()])
        multi.add_handle(handle)
        return True

    running = sum(start(handle) for handle in list(idle))
    while running:
        multi.select(1.0)
        while multi.perform()[0] == pycurl.E_CALL_MULTI_PERFORM:
            pass
        _queued, finished, failed = multi.info_read()
        for handle in [*finished, *(f[0] for f in failed)]:
            multi.remove_handle(handle)
            running -= 1
            running += start(handle)
    multi.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--client", choices=CLIENTS, default="aiohttp")
    parser.add_argument("--url", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    body = encode_payload(sample_payload(EventType.REPORT_AVAILABLE))
    numbers = iter(range(args.count))
    headers_for = signed_headers(new_secret(), body)
    if args.client == "pycurl-select":
        post_with_pycurl_select(args.url, body, numbers, args.concurrency, headers_for)
        return
    post = {
        "aiohttp": post_with_aiohttp,
        "pyreqwest": post_with_pyreqwest,
        "pycurl": post_with_pycurl,
    }[args.client]
    uvloop.run(post(args.url, body, numbers, args.concurrency, headers_for))


if __name__ == "__main__":
    main()
