"""``GET /metrics``: Prometheus text."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hookline.api.deps import ServicesDep
from hookline.errors import Unavailable

router = APIRouter(tags=["health"])


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(services: ServicesDep) -> Response:
    """This process's counters, and the installation's backlog read from the database
    (left out while the database is unavailable: the counters still tell of the outage)."""
    try:
        backlog = await services.operations.backlog()
    except Unavailable:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
    gauges = [
        ("hookline_deliveries_pending", "Deliveries not yet finished", backlog.pending),
        ("hookline_deliveries_due", "Pending deliveries due now", backlog.due),
        (
            "hookline_oldest_due_delivery_age_seconds",
            "How long the oldest due delivery has waited",
            backlog.oldest_due_age_seconds,
        ),
    ]
    text = generate_latest().decode() + "".join(
        f"# HELP {name} {help_text}\n# TYPE {name} gauge\n{name} {float(value)}\n"
        for name, help_text, value in gauges
    )
    return Response(text, media_type=CONTENT_TYPE_LATEST)
