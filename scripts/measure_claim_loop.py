"""The store's side of a delivery, alone: claim a batch, record its outcomes, repeat until
N pending deliveries (each of its own 14 KB event, as in the harness's drain) are done.
Prints the CPU time per delivery of the claims and of the records, and the wall time.
No HTTP: this isolates what the database layer costs, for comparing changes to it.

    .venv/bin/python scripts/measure_claim_loop.py [--url URL] [--deliveries N] [--batch B]

URL: a database to create the schema in (default: a fresh SQLite file); PostgreSQL must
be an empty database. Run each variant several times, alternating: the machine is noisy.
PostgreSQL's own time per statement: start its server with pg_stat_statements loaded
and read that view after a run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time

from sqlalchemy import insert, text

from hookline.domain.attempts import AttemptOutcome, judge_health
from hookline.domain.events import EventType, encode_payload, sample_payload
from hookline.domain.webhooks import DeliveryStatus
from hookline.store import queue
from hookline.store.database import create_engine
from hookline.store.schema import deliveries, events, webhooks, workspaces


async def seed(url: str, count: int) -> None:
    # The seed's 14 KB example, as the harness delivers it.
    payload = encode_payload(sample_payload(EventType.REPORT_AVAILABLE))
    engine = create_engine(url)
    now = time.time()
    async with engine.begin() as conn:
        await conn.execute(insert(workspaces).values(id="ws", name="ws", created_at=now))
        await conn.execute(
            insert(webhooks).values(
                id="wh",
                workspace_id="ws",
                posting_id="p",
                url="http://127.0.0.1:9/",
                event_type="report_available",
                http_method="post",
                is_active=True,
                secret="whsec_bWVhc3VyZQ==",
                created_at=now,
                updated_at=now,
            )
        )
        common = {"workspace_id": "ws", "created_at": now}
        await conn.execute(
            insert(events),
            [
                common | {"id": f"ev{n}", "event_type": "report_available", "posting_id": "p",
                          "interview_id": f"i{n}", "payload": payload + b" " * (n % 7)}
                for n in range(count)
            ],
        )  # fmt: skip
        await conn.execute(
            insert(deliveries),
            [
                common | {"id": f"dl{n}", "event_id": f"ev{n}", "webhook_id": "wh",
                          "status": "pending", "attempt_count": 0, "next_attempt_at": now,
                          "updated_at": now}
                for n in range(count)
            ],
        )  # fmt: skip
        if conn.dialect.name == "postgresql":
            # As the worker's statistics keeper would within seconds: the claim's plan
            # for a table taken to be empty sorts every due row.
            await conn.execute(text("ANALYZE"))
    await engine.dispose()


async def measure(url: str, batch: int) -> tuple[int, float, float, float]:
    """Claim a batch, then record the one before it: as in the worker, each claim scans
    past the batch still in flight."""
    engine = create_engine(url)
    done, claiming, recording = 0, 0.0, 0.0
    in_flight: list[queue.ClaimedDelivery] = []
    wall = time.perf_counter()
    while True:
        started = time.process_time()
        claimed = await queue.claim_due(engine, batch, 60, batch)
        claiming += time.process_time() - started
        if not claimed and not in_flight:
            break
        outcomes = [
            AttemptOutcome(
                d.delivery_id, d.webhook_id, d.event_type, 1, time.time(), 1.0, 200, "ok",
                None, DeliveryStatus.SUCCEEDED, None, d.updated_at,
            )
            for d in in_flight
        ]  # fmt: skip
        started = time.process_time()
        await queue.record_outcomes(engine, outcomes, judge_health(outcomes, time.time(), 1e9))
        recording += time.process_time() - started
        done += len(in_flight)
        in_flight = claimed
    wall = time.perf_counter() - wall
    await engine.dispose()
    return done, claiming, recording, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url")
    parser.add_argument("--deliveries", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        url = args.url or f"sqlite:///{directory}/measure.db"
        subprocess.run(
            [sys.executable, "-m", "hookline", "migrate"],
            env={**os.environ, "HOOKLINE_DATABASE_URL": url},
            check=True,
            capture_output=True,
        )
        asyncio.run(seed(url, args.deliveries))
        done, claiming, recording, wall = asyncio.run(measure(url, args.batch))
    per = 1e6 / done
    print(
        f"{done} deliveries, batches of {args.batch}: CPU per delivery {claiming * per:.1f} µs "
        f"claiming, {recording * per:.1f} µs recording; wall {wall * per:.1f} µs"
    )


if __name__ == "__main__":
    main()
