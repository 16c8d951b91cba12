"""The signed request for one attempt, as the sender hands it to libcurl."""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple
from urllib.parse import urlencode, urlsplit

from hookline import __version__
from hookline.delivery.signing import signature_header, signing_secrets
from hookline.domain.codec import decode
from hookline.domain.events import get_query_params
from hookline.domain.inputs import normalize_url
from hookline.store.queue import ClaimedDelivery

USER_AGENT = f"hookline/{__version__}"
# libcurl adds these unless told not to: an Expect: 100-continue wait on large bodies,
# and an Accept no receiver needs.
SUPPRESSED_HEADERS = ("Expect:", "Accept:")


class OutboundRequest(NamedTuple):
    url: str
    header_lines: list[str]  # "name: value", as libcurl takes them
    body: bytes | None  # None: a GET


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
        params = get_query_params(delivery.event_type, delivery.event_id, decode(delivery.payload))
        query = urlencode(params)
        existing = urlsplit(target).query
        # The receiver sees, and verifies, the whole raw query string.
        signed_query = f"{existing}&{query}" if existing else query
        url = target.split("?", 1)[0] + "?" + signed_query
        content, body = signed_query.encode(), None
        lines = []
    else:
        url, content, body = target, delivery.payload, delivery.payload
        lines = ["content-type: application/json"]
    secrets = signing_secrets(
        delivery.secret, delivery.previous_secret, delivery.previous_secret_expires_at, now
    )
    signature = signature_header(secrets, delivery.delivery_id, timestamp, content)
    lines += (
        f"user-agent: {USER_AGENT}",
        f"webhook-id: {delivery.delivery_id}",
        f"webhook-timestamp: {timestamp}",
        f"webhook-signature: {signature}",
        f"x-hookline-event-type: {delivery.event_type}",
        f"x-hookline-event-id: {delivery.event_id}",
        f"x-hookline-attempt: {delivery.attempt_count + 1}",
        *SUPPRESSED_HEADERS,
    )
    return OutboundRequest(url, lines, body)
