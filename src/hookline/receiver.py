"""The integrators' kit: verify a delivery and parse it into the typed event.

from hookline.receiver import verify
event = verify(body, headers, secret)   # InterviewStarted | InterviewCompleted | ReportAvailable
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Mapping

from fastapi import HTTPException, Request

from hookline.delivery.signing import sign
from hookline.domain.events import PAYLOAD_MODELS, EventType, PayloadError, validate_payload
from hookline.domain.payloads import OpenModel

DEFAULT_TOLERANCE_SECONDS = 300


class VerificationError(ValueError):
    """The delivery is not authentic, too old or too new, or not a known event."""


def verify_signature(
    content: bytes,
    headers: Mapping[str, str],
    secret: str,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
) -> str:
    """Check the Standard Webhooks headers over ``content`` (the body of a POST, the raw
    query string of a GET). Returns the ``webhook-id``, to de-duplicate on."""
    lowered = {k.lower(): v for k, v in headers.items()}
    message_id = lowered.get("webhook-id")
    timestamp = lowered.get("webhook-timestamp")
    signatures = lowered.get("webhook-signature")
    if not (message_id and timestamp and signatures):
        raise VerificationError("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise VerificationError("webhook-timestamp is not a unix timestamp") from None
    if abs(time.time() - sent_at) > tolerance:
        raise VerificationError("webhook-timestamp is outside the tolerance: a replay?")
    expected = sign(secret, message_id, sent_at, content)
    if not any(hmac.compare_digest(expected, s) for s in signatures.split(" ")):
        raise VerificationError("no signature matches the secret")
    return message_id


def event_type_of(headers: Mapping[str, str]) -> EventType:
    raw = {k.lower(): v for k, v in headers.items()}.get("x-hookline-event-type", "")
    try:
        return EventType(raw)
    except ValueError:
        raise VerificationError(f"unknown event type {raw!r}") from None


def verify(
    body: bytes,
    headers: Mapping[str, str],
    secret: str,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
) -> OpenModel:
    """Verify a POST delivery and return its typed event."""
    verify_signature(body, headers, secret, tolerance)
    event_type = event_type_of(headers)
    try:
        return validate_payload(event_type, json.loads(body))
    except (ValueError, PayloadError) as exc:
        raise VerificationError(f"payload is not a valid {event_type.value}: {exc}") from None


def webhook_event(secret: str, tolerance: float = DEFAULT_TOLERANCE_SECONDS):  # type: ignore[no-untyped-def]
    """A FastAPI dependency giving the route the verified, typed event; a delivery that
    does not verify is answered 400 (Hookline retries it, then logs why)."""

    async def verified_event(request: Request) -> OpenModel:
        try:
            return verify(await request.body(), request.headers, secret, tolerance)
        except VerificationError as exc:
            raise HTTPException(400, str(exc)) from None

    return verified_event


def verify_flask(request, secret: str, tolerance: float = DEFAULT_TOLERANCE_SECONDS) -> OpenModel:  # type: ignore[no-untyped-def]
    """Verify a Flask (or any WSGI framework's) request: ``get_data()`` and ``headers``."""
    return verify(request.get_data(), request.headers, secret, tolerance)


__all__ = [
    "PAYLOAD_MODELS",
    "VerificationError",
    "event_type_of",
    "verify",
    "verify_flask",
    "verify_signature",
    "webhook_event",
]
