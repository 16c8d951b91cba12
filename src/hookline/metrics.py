"""Prometheus metrics. Counters and histograms count what this process did; the backlog
gauges are read from the database at scrape time, so they hold for the whole
installation."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_PUBLISHED = Counter(
    "hookline_events_published", "Events accepted through the API", ["event_type"]
)
DELIVERIES_FINISHED = Counter(
    "hookline_deliveries_finished",
    "Deliveries that reached a final state after an attempt",
    ["outcome"],
)
ATTEMPTS = Counter(
    "hookline_attempts", "Delivery attempts by the class of their answer", ["status_class"]
)
DELIVERY_LATENCY = Histogram(
    "hookline_delivery_latency_seconds",
    "From the event's publication to its successful delivery",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600, 36000),
)
CLAIMS = Counter("hookline_worker_claims", "Claim queries run by this process's worker")
CLAIMED = Counter("hookline_worker_claimed_deliveries", "Deliveries claimed by this worker")
DATABASE_UNAVAILABLE = Gauge(
    "hookline_database_unavailable", "1 while this process finds the database unavailable"
)
DATABASE_FAULTS = Counter(
    "hookline_database_faults",
    "Operations that failed because the database was unavailable, by kind of fault",
    ["kind"],
)


def status_class(status_code: int | None) -> str:
    """``2xx`` … ``5xx``, or ``error`` when no HTTP answer came (timeout, refused…)."""
    return "error" if status_code is None else f"{status_code // 100}xx"
