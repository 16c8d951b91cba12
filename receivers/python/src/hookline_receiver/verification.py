"""Verify a Hookline delivery (Standard Webhooks signatures) and parse it into its event.

A POST delivery's signed content is its body; a GET delivery's is the raw query string,
exactly as received (before any decoding): ``request.scope["query_string"]`` in
FastAPI/Starlette, ``request.query_string`` in Flask, the part after ``?`` of the
request line elsewhere.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict, ValidationError

from hookline_receiver.events import PAYLOAD_MODELS, Event, EventType

DEFAULT_TOLERANCE_SECONDS = 300
SECRET_PREFIX = "whsec_"


class VerificationError(ValueError):
    """The delivery is not authentic, too old or too new, or not a known event."""


class EventNotice(BaseModel):
    """What a GET delivery carries: the event's type, ids and time. The whole event is
    at ``GET /api/events/{event_id}`` of the Hookline API."""

    model_config = ConfigDict(frozen=True)

    event_type: EventType
    event_id: str
    interview_id: str
    posting_id: str
    timestamp: float


def _secret_key(secret: str) -> bytes:
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error:
        raise VerificationError("the secret is not a whsec_<base64> secret") from None


def sign(secret: str, message_id: str, timestamp: int, content: bytes) -> str:
    """The ``v1,<base64>`` signature Hookline sends for this content."""
    mac = hmac.new(_secret_key(secret), digestmod=hashlib.sha256)
    mac.update(f"{message_id}.{timestamp}.".encode())
    mac.update(content)
    return "v1," + base64.b64encode(mac.digest()).decode()


def _as_bytes(content: bytes | str) -> bytes:
    return content.encode() if isinstance(content, str) else content


def _lowered(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def verify_signature(
    content: bytes | str,
    headers: Mapping[str, str],
    secret: str | Iterable[str],
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
) -> str:
    """Check the ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` headers
    over ``content``, with one secret or any of several. Returns the ``webhook-id``: the
    same on every retry of a delivery, so de-duplicate on it."""
    found = _lowered(headers)
    message_id = found.get("webhook-id")
    timestamp = found.get("webhook-timestamp")
    signatures = found.get("webhook-signature")
    if not (message_id and timestamp and signatures):
        raise VerificationError("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise VerificationError("webhook-timestamp is not a unix timestamp") from None
    if abs(time.time() - sent_at) > tolerance:
        raise VerificationError("webhook-timestamp is outside the tolerance: a replay?")
    secrets = [secret] if isinstance(secret, str) else list(secret)
    offered = signatures.split(" ")
    body = _as_bytes(content)
    for candidate in secrets:
        expected = sign(candidate, message_id, sent_at, body)
        # Compare with every offered signature, in constant time each.
        if any(hmac.compare_digest(expected, given) for given in offered):
            return message_id
    raise VerificationError("no signature matches the secret")


def event_type_of(headers: Mapping[str, str]) -> EventType:
    """The event type named by the ``x-hookline-event-type`` header."""
    raw = _lowered(headers).get("x-hookline-event-type", "")
    try:
        return EventType(raw)
    except ValueError:
        raise VerificationError(f"unknown event type {raw!r}") from None


def parse_event(content: bytes | str, headers: Mapping[str, str]) -> Event | EventNotice:
    """The typed event of a delivery, without checking its signature: a POST body's
    payload model, or a GET query string's ``EventNotice``."""
    event_type = event_type_of(headers)
    raw = _as_bytes(content)
    try:
        if raw.lstrip().startswith(b"{"):
            return PAYLOAD_MODELS[event_type].model_validate_json(raw)  # type: ignore[return-value]
        notice = EventNotice.model_validate(dict(parse_qsl(raw.decode(), keep_blank_values=True)))
    except (ValidationError, ValueError) as exc:
        raise VerificationError(f"not a valid {event_type.value} delivery: {exc}") from None
    if notice.event_type is not event_type:
        raise VerificationError("the query's event_type differs from x-hookline-event-type")
    return notice


def verify(
    content: bytes | str,
    headers: Mapping[str, str],
    secret: str | Iterable[str],
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
) -> Event | EventNotice:
    """Verify a delivery and return its typed event.

    ``content`` is the raw body of a POST (then the result is ``InterviewStarted``,
    ``InterviewCompleted`` or ``ReportAvailable``) or the raw query string of a GET (then
    an ``EventNotice``). Raises ``VerificationError`` if the delivery is not signed with
    the secret (or one of the secrets), is older or newer than ``tolerance`` seconds, or
    is not a valid event.
    """
    verify_signature(content, headers, secret, tolerance)
    return parse_event(content, headers)
