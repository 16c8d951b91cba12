"""When a failed delivery is tried again."""

from __future__ import annotations

import random
from collections.abc import Sequence


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
