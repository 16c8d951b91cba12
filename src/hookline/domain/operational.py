"""Operational events: what Hookline tells a workspace about its own webhooks.

They are delivered like any event (signed, retried, logged) to the webhooks subscribed to
them. None is ever raised by the delivery of another operational event, so they cannot
loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hookline.domain.events import OPERATIONAL_EVENT_TYPES, EventType

# Operational events concern a webhook, not an interview; the events table still wants one.
NO_INTERVIEW = ""


def may_raise_operational_events(event_type: str) -> bool:
    """Only the outcomes of the platform's own events raise operational events."""
    return event_type not in OPERATIONAL_EVENT_TYPES


@dataclass(frozen=True)
class OperationalEvent:
    workspace_id: str
    event_type: EventType
    posting_id: str  # the affected webhook's, so that posting's subscribers hear of it
    interview_id: str
    payload: dict[str, Any]


def webhook_disabled(
    workspace_id: str,
    webhook_id: str,
    posting_id: str,
    url: str,
    event_type: str,
    reason: str,
    disabled_at: float,
) -> OperationalEvent:
    payload = {
        "webhook_id": webhook_id,
        "posting_id": posting_id,
        "url": url,
        "event_type": event_type,
        "reason": reason,
        "disabled_at": disabled_at,
    }
    return OperationalEvent(
        workspace_id, EventType.WEBHOOK_DISABLED, posting_id, NO_INTERVIEW, payload
    )


def delivery_failed(
    workspace_id: str,
    *,
    delivery_id: str,
    event_id: str,
    webhook_id: str,
    event_type: str,
    interview_id: str,
    posting_id: str,
    attempts: int,
    last_status_code: int | None,
    last_error: str | None,
    failed_at: float,
) -> OperationalEvent:
    payload = {
        "delivery_id": delivery_id,
        "event_id": event_id,
        "webhook_id": webhook_id,
        "event_type": event_type,
        "interview_id": interview_id,
        "posting_id": posting_id,
        "attempts": attempts,
        "last_status_code": last_status_code,
        "last_error": last_error,
        "failed_at": failed_at,
    }
    return OperationalEvent(
        workspace_id, EventType.DELIVERY_FAILED, posting_id, interview_id, payload
    )
