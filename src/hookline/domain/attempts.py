"""What one delivery attempt came to, and the rules that judge it: success, and the
health of the webhook it went to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import NamedTuple

from hookline.domain.webhooks import DeliveryStatus

GONE_REASON = "the endpoint answered 410 Gone"


def storable_text(text: str | None) -> str | None:
    """Text any backend stores: NUL removed, lone surrogates replaced."""
    if text is None:
        return None
    if not text.isascii():
        text = text.encode("utf-8", errors="replace").decode("utf-8")
    return text.replace("\x00", "")


def is_success(status_code: int | None) -> bool:
    """Any 2xx (the Standard Webhooks rule), so a 202 or 204 receiver is not retried."""
    return status_code is not None and 200 <= status_code < 300


class AttemptOutcome(NamedTuple):
    delivery_id: str
    webhook_id: str
    event_type: str
    attempt_number: int
    started_at: float
    duration_ms: float
    status_code: int | None
    response_excerpt: str | None
    error: str | None
    new_status: DeliveryStatus
    next_attempt_at: float | None  # set when the delivery goes back to pending
    # The delivery's updated_at as claimed. A redelivery queued while the attempt was in
    # flight changed it: the outcome is logged, but the delivery stays queued.
    claimed_updated_at: float

    @property
    def succeeded(self) -> bool:
        return is_success(self.status_code)


@dataclass(frozen=True)
class HealthDecision:
    """How a batch of outcomes changes their webhooks' health, for the store to apply."""

    recovered: frozenset[str]  # answered 2xx: no longer failing
    failing_since: dict[str, float]  # only failures: failing from then, unless already
    gone: frozenset[str]  # answered 410 Gone: disable now
    # A failing webhook whose run of failures began at or before this is disabled.
    disable_failing_before: float
    failing_reason: str


def judge_health(
    outcomes: Sequence[AttemptOutcome], now: float, disable_after_seconds: float
) -> HealthDecision:
    recovered = frozenset(o.webhook_id for o in outcomes if o.succeeded)
    failing_since: dict[str, float] = {}
    for o in outcomes:
        if o.webhook_id not in recovered:
            earliest = failing_since.get(o.webhook_id, o.started_at)
            failing_since[o.webhook_id] = min(earliest, o.started_at)
    hours = disable_after_seconds / 3600
    return HealthDecision(
        recovered=recovered,
        failing_since=failing_since,
        gone=frozenset(o.webhook_id for o in outcomes if o.status_code == HTTPStatus.GONE),
        disable_failing_before=now - disable_after_seconds,
        failing_reason=f"every delivery attempt failed for {hours:g} hours",
    )
