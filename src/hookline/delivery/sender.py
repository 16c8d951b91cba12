"""The HTTP side of a delivery: build the signed request, send it, read a capped reply."""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from functools import lru_cache
from http import HTTPStatus
from urllib.parse import urlencode, urlsplit

import aiohttp
from yarl import URL

from hookline import __version__
from hookline.delivery.signing import signature_header, signing_secrets
from hookline.delivery.url_safety import (
    SafeResolver,
    UnsafeDestination,
    check_address,
    literal_address,
)
from hookline.domain.events import get_query_params
from hookline.domain.inputs import normalize_url
from hookline.errors import InvalidInput
from hookline.store.queue import ClaimedDelivery

USER_AGENT = f"hookline/{__version__}"
EXCERPT_BYTES = 1024
# Read at most this much of a reply, so the connection can be reused for the next send
# without letting an endpoint make Hookline buffer an unbounded body.
MAX_READ_BYTES = 64 * 1024
RETRY_AFTER_STATUSES = (HTTPStatus.TOO_MANY_REQUESTS, HTTPStatus.SERVICE_UNAVAILABLE)


@dataclass(frozen=True)
class OutboundRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None


@dataclass(frozen=True)
class SendResult:
    started_at: float
    duration_ms: float
    status_code: int | None
    response_excerpt: str | None
    error: str | None
    retry_after: float | None = None  # seconds, from a 429's or 503's Retry-After


@lru_cache(maxsize=4096)
def sendable_url(stored: str) -> str:
    """The stored URL as it goes on the wire, without its fragment: checked and encoded
    by the same rule as at registration, since a row may predate that rule. Raises
    InvalidInput, which the attempt records, rather than reaching DNS or the socket."""
    return normalize_url("url", stored).split("#", 1)[0]


def build_request(delivery: ClaimedDelivery, now: float) -> OutboundRequest:
    """The signed request for one attempt; ``webhook-id`` is the delivery id, stable
    across retries, so receivers can de-duplicate on it."""
    timestamp = int(now)
    target = sendable_url(delivery.url)
    if delivery.http_method == "get":
        params = get_query_params(
            delivery.event_type, delivery.event_id, json.loads(delivery.payload)
        )
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
    headers |= {
        "user-agent": USER_AGENT,
        "webhook-id": delivery.delivery_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets, delivery.delivery_id, timestamp, content),
        "x-hookline-event-type": delivery.event_type,
        "x-hookline-event-id": delivery.event_id,
        "x-hookline-attempt": str(delivery.attempt_count + 1),
    }
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


def describe_error(exc: BaseException, timeout: float) -> str:
    """A short, secret-free account of why an attempt got no HTTP answer."""
    if isinstance(exc, TimeoutError):
        return f"timed out after {timeout:g} s"
    if isinstance(exc, UnsafeDestination):
        return f"destination refused: {exc}"
    if isinstance(exc, InvalidInput):
        return f"invalid destination URL: {exc.problems[0].message}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        cause = exc.__cause__
        if isinstance(cause, UnsafeDestination):
            return f"destination refused: {cause}"
        if isinstance(exc, aiohttp.ClientConnectorDNSError) or isinstance(
            exc.os_error, socket.gaierror
        ):
            return f"name not resolved: {exc.host}"
        errno = exc.os_error.errno if exc.os_error else None
        return f"connection failed: {os.strerror(errno) if errno else exc}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "server disconnected before answering"
    if isinstance(exc, aiohttp.ClientError):
        return f"{type(exc).__name__}: {exc}"
    return f"{type(exc).__name__}: {exc}"


class Sender:
    """One shared connection pool for every delivery of this process."""

    def __init__(self, timeout: float, max_connections: int, allow_private_urls: bool) -> None:
        self._timeout = timeout
        self._max_connections = max_connections
        self._allow_private_urls = allow_private_urls
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=self._max_connections,
            resolver=None if self._allow_private_urls else SafeResolver(),
            ttl_dns_cache=60,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self._timeout),
            auto_decompress=False,
            skip_auto_headers=("Accept-Encoding",),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _check_literal_host(self, url: str) -> None:
        # Names are checked by the resolver; a literal address never reaches it.
        if self._allow_private_urls:
            return
        host = urlsplit(url).hostname or ""
        address = literal_address(host)
        if address is not None:
            check_address(host, address)

    async def send(self, delivery: ClaimedDelivery) -> SendResult:
        assert self._session is not None, "Sender.start() was not called"
        started_at = time.time()
        clock = time.perf_counter()
        status_code: int | None = None
        excerpt: str | None = None
        error: str | None = None
        retry_after: float | None = None
        try:
            request = build_request(delivery, started_at)
            self._check_literal_host(request.url)
            async with self._session.request(
                request.method,
                URL(request.url, encoded=True),
                data=request.body,
                headers=request.headers,
                allow_redirects=False,
            ) as response:
                status_code = response.status
                if status_code in RETRY_AFTER_STATUSES:
                    retry_after = parse_retry_after(
                        response.headers.get("retry-after"), time.time()
                    )
                body = await response.content.read(MAX_READ_BYTES)
                excerpt = body[:EXCERPT_BYTES].decode("utf-8", errors="replace")
        except (aiohttp.ClientError, TimeoutError, UnsafeDestination, InvalidInput, OSError) as exc:
            error = describe_error(exc, self._timeout)
        duration_ms = (time.perf_counter() - clock) * 1000
        return SendResult(started_at, duration_ms, status_code, excerpt, error, retry_after)
