"""When a failed delivery is tried again."""

from __future__ import annotations

import random
from collections.abc import Sequence

MIN_RETRY_AFTER_SECONDS = 1.0
MAX_RETRY_AFTER_SECONDS = 3600.0


def retry_delay(
    schedule: Sequence[float],
    failed_attempt: int,
    jitter: float,
    rng: random.Random | None = None,
) -> float | None:
    """Seconds until the next attempt after attempt number ``failed_attempt`` (1-based)
    failed, or None when the schedule is used up and the delivery has failed for good."""
    if failed_attempt > len(schedule):
        return None
    base = schedule[failed_attempt - 1]
    return base * (rng or random).uniform(1 - jitter, 1 + jitter)


def honour_retry_after(scheduled: float, retry_after: float | None) -> float:
    """The endpoint's own Retry-After replaces the scheduled delay, within bounds: no sooner
    than a second, no later than an hour, so one header cannot stall a delivery for days."""
    if retry_after is None:
        return scheduled
    return min(max(retry_after, MIN_RETRY_AFTER_SECONDS), MAX_RETRY_AFTER_SECONDS)
