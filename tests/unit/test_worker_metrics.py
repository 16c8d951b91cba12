"""The worker's metrics count each delivery once, when it is settled."""

from __future__ import annotations

import time

from prometheus_client import REGISTRY

from hookline.delivery.worker import Finished, _count
from hookline.domain.attempts import AttemptOutcome
from hookline.domain.webhooks import DeliveryStatus


def _finished(delivery_id: str) -> Finished:
    now = time.time()
    outcome = AttemptOutcome(
        delivery_id, "wh", "interview_started", 1, now, 3.0, 200, "ok", None,
        DeliveryStatus.SUCCEEDED, None, now,
    )  # fmt: skip
    return Finished(now - 0.01, False, outcome)


def _sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_an_attempt_a_redelivery_overtook_counts_but_its_delivery_does_not_finish() -> None:
    """A 200 recorded after a redelivery (or a cancel) overtook it is an attempt, but the
    delivery is not finished: it is counted when its next attempt settles it."""
    finished = ("hookline_deliveries_finished_total", {"outcome": "succeeded"})
    attempts = ("hookline_attempts_total", {"status_class": "2xx"})
    before = _sample(*finished), _sample(*attempts)

    _count([_finished("dlv_settled"), _finished("dlv_overtaken")], {"dlv_overtaken"})

    assert _sample(*finished) - before[0] == 1
    assert _sample(*attempts) - before[1] == 2
