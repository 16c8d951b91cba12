"""``GET /metrics``: Prometheus text."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hookline.store.deliveries import backlog

router = APIRouter(tags=["health"])


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    """This process's counters, and the installation's backlog read from the database."""
    now = time.time()
    pending, due, oldest_due = await backlog(request.app.state.engine, now)
    gauges = [
        ("hookline_deliveries_pending", "Deliveries not yet finished", pending),
        ("hookline_deliveries_due", "Pending deliveries due now", due),
        (
            "hookline_oldest_due_delivery_age_seconds",
            "How long the oldest due delivery has waited",
            now - oldest_due if oldest_due is not None else 0.0,
        ),
    ]
    text = generate_latest().decode() + "".join(
        f"# HELP {name} {help_text}\n# TYPE {name} gauge\n{name} {float(value)}\n"
        for name, help_text, value in gauges
    )
    return Response(text, media_type=CONTENT_TYPE_LATEST)
