"""The HTTP side of a delivery: build the signed request, send it, read a capped reply.

Requests go out through pyreqwest (Rust's reqwest and hyper under asyncio; the choice and
its figures are in docs/benchmarks.md). reqwest resolves names itself and offers no hook at
connect time, so the safety check happens here: each destination host gets a client of its
own whose resolution is pinned to the address that was checked (``resolve(host, address)``),
re-resolved and re-checked when the pin is older than the DNS cache's lifetime. The URL keeps
its host name, so TLS still sends SNI for it and verifies the certificate against it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import re
import socket
import time
from datetime import timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache
from http import HTTPStatus
from typing import NamedTuple
from urllib.parse import urlencode, urlsplit

from pyreqwest.client import Client, ClientBuilder
from pyreqwest.exceptions import PyreqwestError, RequestError, RequestTimeoutError

from hookline import __version__
from hookline.delivery.signing import signature_header, signing_secrets
from hookline.delivery.url_safety import UnsafeDestination, check_address, literal_address
from hookline.domain.codec import decode
from hookline.domain.events import get_query_params
from hookline.domain.inputs import normalize_url
from hookline.errors import InvalidInput
from hookline.store.queue import ClaimedDelivery

log = logging.getLogger("hookline.sender")
USER_AGENT = f"hookline/{__version__}"
EXCERPT_BYTES = 1024
# Read at most this much of a reply, so the connection can be reused for the next send
# without letting an endpoint make Hookline buffer an unbounded body.
MAX_READ_BYTES = 64 * 1024
RETRY_AFTER_STATUSES = (HTTPStatus.TOO_MANY_REQUESTS, HTTPStatus.SERVICE_UNAVAILABLE)
# How long a checked address stays pinned before the name is resolved and checked again
# (what aiohttp's DNS cache kept before; getaddrinfo does not tell the record's TTL).
DNS_TTL_SECONDS = 60.0
# Per-host clients kept at once; the least recently pinned goes first beyond this.
MAX_PINNED_HOSTS = 1024
# hyper's account of a kept-alive connection the server closed just as it was reused.
STALE_CONNECTION = "connection closed before message completed"
OS_ERROR = re.compile(r"\(os error (\d+)\)")


class OutboundRequest(NamedTuple):
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None


class SendResult(NamedTuple):
    started_at: float
    duration_ms: float
    status_code: int | None
    response_excerpt: str | None
    error: str | None
    retry_after: float | None = None  # seconds, from a 429's or 503's Retry-After


class NameNotResolved(OSError):
    def __init__(self, host: str) -> None:
        super().__init__(host)
        self.host = host


class Destination(NamedTuple):
    url: str  # as it goes on the wire, without its fragment
    host: str  # the host name or literal address, lower case, without brackets


@lru_cache(maxsize=4096)
def sendable_url(stored: str) -> str:
    """The stored URL as it goes on the wire, without its fragment: checked and encoded
    by the same rule as at registration, since a row may predate that rule. Raises
    InvalidInput, which the attempt records, rather than reaching DNS or the socket."""
    return normalize_url("url", stored).split("#", 1)[0]


@lru_cache(maxsize=4096)
def destination(stored: str) -> Destination:
    url = sendable_url(stored)
    return Destination(url, urlsplit(url).hostname or "")


def build_request(delivery: ClaimedDelivery, now: float) -> OutboundRequest:
    """The signed request for one attempt; ``webhook-id`` is the delivery id, stable
    across retries, so receivers can de-duplicate on it."""
    timestamp = int(now)
    target = sendable_url(delivery.url)
    if delivery.http_method == "get":
        params = get_query_params(delivery.event_type, delivery.event_id, decode(delivery.payload))
        query = urlencode(params)
        existing = urlsplit(target).query
        # The receiver sees, and verifies, the whole raw query string.
        signed_query = f"{existing}&{query}" if existing else query
        url = target.split("?", 1)[0] + "?" + signed_query
        content, body = signed_query.encode(), None
        headers: dict[str, str] = {}
    else:
        url, content, body = target, delivery.payload, delivery.payload
        headers = {"content-type": "application/json"}
    secrets = signing_secrets(
        delivery.secret, delivery.previous_secret, delivery.previous_secret_expires_at, now
    )
    headers["user-agent"] = USER_AGENT
    headers["webhook-id"] = delivery.delivery_id
    headers["webhook-timestamp"] = str(timestamp)
    headers["webhook-signature"] = signature_header(
        secrets, delivery.delivery_id, timestamp, content
    )
    headers["x-hookline-event-type"] = delivery.event_type
    headers["x-hookline-event-id"] = delivery.event_id
    headers["x-hookline-attempt"] = str(delivery.attempt_count + 1)
    return OutboundRequest(delivery.http_method.upper(), url, headers, body)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date; None if unusable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(parsedate_to_datetime(value).timestamp() - now, 0.0)
    except (TypeError, ValueError):
        return None


def _causes(exc: PyreqwestError) -> list[str]:
    details = getattr(exc, "details", None) or {}
    return [cause["message"] for cause in details.get("causes") or ()]


def describe_error(exc: BaseException, timeout: float) -> str:
    """A short, secret-free account of why an attempt got no HTTP answer."""
    if isinstance(exc, TimeoutError):  # pyreqwest's timeouts are TimeoutErrors too
        return f"timed out after {timeout:g} s"
    if isinstance(exc, UnsafeDestination):
        return f"destination refused: {exc}"
    if isinstance(exc, InvalidInput):
        return f"invalid destination URL: {exc.problems[0].message}"
    if isinstance(exc, NameNotResolved):
        return f"name not resolved: {exc.host}"
    if isinstance(exc, RequestError):
        causes = _causes(exc)
        if STALE_CONNECTION in causes:
            return "server disconnected before answering"
        for cause in reversed(causes):
            if found := OS_ERROR.search(cause):
                return f"connection failed: {os.strerror(int(found.group(1)))}"
        return f"{type(exc).__name__}: {causes[-1] if causes else exc}"
    return f"{type(exc).__name__}: {exc}"


class _Pin(NamedTuple):
    client: Client
    address: str | None  # None: the host is a literal address, nothing to resolve
    expires_at: float  # time.monotonic()


class Sender:
    """Sends every delivery of this process: one keep-alive client per destination host,
    pinned to that host's checked address."""

    def __init__(self, timeout: float, max_connections: int, allow_private_urls: bool) -> None:
        self._timeout = timeout
        self._max_connections = max_connections
        self._allow_private_urls = allow_private_urls
        self._pins: dict[str, _Pin] = {}
        self._pinning: dict[str, asyncio.Future[_Pin]] = {}
        self._retiring: dict[asyncio.Task[None], Client] = {}  # closed after a grace
        self._started = False

    async def start(self) -> None:
        self._started = True

    async def close(self) -> None:
        self._started = False
        clients = [pin.client for pin in self._pins.values()] + list(self._retiring.values())
        self._pins = {}
        for task in self._retiring:
            task.cancel()
        await asyncio.gather(*self._retiring, return_exceptions=True)
        self._retiring = {}
        for client in clients:  # a client left open can crash the interpreter's exit
            await client.close()

    def _new_client(self, host: str, address: str | None) -> Client:
        builder = (
            ClientBuilder()
            .timeout(timedelta(seconds=self._timeout))
            .follow_redirects(False)
            .no_proxy()  # never through a proxy from the environment: that would unpin
            .gzip(False)
            .brotli(False)
            .zstd(False)
            .deflate(False)
            .referer(False)
            .user_agent(USER_AGENT)
            .max_connections(self._max_connections)
            .pool_max_idle_per_host(self._max_connections)
        )
        if address is not None:
            # Port 0: the URL's port is used, so one pin serves every port of the host.
            builder = builder.resolve(host, address, 0)
        return builder.build()

    async def _resolve(self, host: str) -> str:
        """The host's address to connect to, every address of its answer checked."""
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except socket.gaierror:
            raise NameNotResolved(host) from None
        if not infos:
            raise NameNotResolved(host)
        addresses = [info[4][0].split("%", 1)[0] for info in infos]
        if not self._allow_private_urls:
            for address in addresses:
                check_address(host, ipaddress.ip_address(address))
        return addresses[0]

    async def _pin(self, host: str, stale: _Pin | None) -> _Pin:
        literal = literal_address(host)
        if literal is not None:
            if not self._allow_private_urls:
                check_address(host, literal)
            address = None
        else:
            address = await self._resolve(host)
        expires_at = time.monotonic() + DNS_TTL_SECONDS
        if stale is not None and stale.address == address:
            return _Pin(stale.client, address, expires_at)  # same address: keep its pool
        if stale is not None:
            self._retire(stale.client)
        return _Pin(self._new_client(host, address), address, expires_at)

    def _retire(self, client: Client) -> None:
        """Close a client no longer handed out once its attempts in flight had their time."""

        async def close_later() -> None:
            await asyncio.sleep(self._timeout + 1)
            await client.close()

        task = asyncio.create_task(close_later())
        self._retiring[task] = client
        task.add_done_callback(lambda done: self._retiring.pop(done, None))

    async def _client_for(self, host: str) -> Client:
        pin = self._pins.get(host)
        if pin is not None and pin.expires_at > time.monotonic():
            return pin.client
        pending = self._pinning.get(host)
        if pending is None:  # one resolution per host, however many sends wait for it
            pending = asyncio.ensure_future(self._pin(host, pin))
            self._pinning[host] = pending
            try:
                pin = await asyncio.shield(pending)
            finally:
                del self._pinning[host]
            self._pins.pop(host, None)
            if len(self._pins) >= MAX_PINNED_HOSTS:
                oldest = next(iter(self._pins))
                self._retire(self._pins.pop(oldest).client)
            self._pins[host] = pin
            return pin.client
        return (await asyncio.shield(pending)).client

    async def send(self, delivery: ClaimedDelivery) -> SendResult:
        assert self._started, "Sender.start() was not called"
        started_at = time.time()
        clock = time.perf_counter()
        status_code: int | None = None
        excerpt: str | None = None
        error: str | None = None
        retry_after: float | None = None
        try:
            request = build_request(delivery, started_at)
            host = destination(delivery.url).host
            pin = self._pins.get(host)
            if pin is not None and pin.expires_at > time.monotonic():
                client = pin.client
            else:
                async with asyncio.timeout(self._timeout):  # resolving is within the total
                    client = await self._client_for(host)
            # No read-ahead: the reply is read below, capped; the status comes as soon as
            # the head has arrived, whatever the body does after.
            builder = (
                client.request(request.method, request.url)
                .headers(request.headers)
                .streamed_read_buffer_limit(0)
            )
            if request.body is not None:
                builder = builder.body_bytes(request.body)
            spent = time.perf_counter() - clock
            if spent > 0.01:  # a resolution took time: what is left of the total is the limit
                builder = builder.timeout(timedelta(seconds=max(self._timeout - spent, 0.001)))
            async with builder.build_streamed() as response:
                status_code = response.status
                if status_code in RETRY_AFTER_STATUSES:
                    retry_after = parse_retry_after(response.get_header("retry-after"), time.time())
                excerpt = (await _read_capped(response.body_reader))[:EXCERPT_BYTES].decode(
                    "utf-8", errors="replace"
                )
        except (PyreqwestError, TimeoutError, UnsafeDestination, InvalidInput, OSError) as exc:
            error = describe_error(exc, self._timeout)
        duration_ms = (time.perf_counter() - clock) * 1000
        return SendResult(started_at, duration_ms, status_code, excerpt, error, retry_after)


async def _read_capped(reader) -> bytes:  # type: ignore[no-untyped-def]
    """Up to MAX_READ_BYTES of the reply: read to its end when it is shorter, so the
    connection goes back to the pool. Once the answer has come, a body that does not
    finish in time keeps what arrived: the status stands."""
    first = await reader.read_chunk()
    if first is None:
        return b""
    chunks, size = [bytes(first)], len(first)
    try:
        while size < MAX_READ_BYTES:
            chunk = await reader.read_chunk()
            if chunk is None:
                break
            chunks.append(bytes(chunk))
            size += len(chunk)
    except RequestTimeoutError:
        pass
    return b"".join(chunks)[:MAX_READ_BYTES]
