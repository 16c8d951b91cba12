"""PostgreSQL's CPU per payload, pglz against lz4, out of line (TOAST) against in the row:
publish N distinct events of the seed's 14 KB report_available in batches (the store's
publish_batch, as the API's group commit does), then read their payloads back 50 at a
time (as a claim returns them). CPU is the server processes' own, from /proc, so this
runs on Linux, on a cluster of its own.

    .venv/bin/python scripts/measure_payload_compression.py [--events N] [--rounds R]

Each round measures every layout, alternating, each on a fresh database.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path

import asyncpg

from hookline.bench.postgres import PostgresCluster
from hookline.domain.events import EventType, encode_payload, sample_payload
from hookline.store import events as event_store
from hookline.store import keys as key_store
from hookline.store.database import asyncpg_dsn, create_engine
from hookline.store.events import NewEvent
from hookline.store.migrate import upgrade_to_head

PUBLISH_BATCH = 20
READ_BATCH = 50
# The first read of a row written since the last visit sets its hint bits (as a claim's
# read does, soon after the publish); the passes after it show what reading alone costs.
READ_PASSES = 4


def server_cpu_seconds() -> float:
    """CPU time of every PostgreSQL process alive now (the cluster is this script's)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        try:
            if b"postgres" not in (entry / "cmdline").read_bytes():
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, ValueError):
            continue  # not a process, or one that just ended
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


# How events.payload is stored. Out of line: compressed, then moved to the TOAST table
# once the row passes about 2 KB (PostgreSQL's default). In the row: the row may grow to a
# page (toast_tuple_target) before anything is compressed or moved out.
LAYOUTS = {
    "pglz, out of line": ("pglz", "RESET (toast_tuple_target)"),
    "lz4, out of line": ("lz4", "RESET (toast_tuple_target)"),
    "lz4, in the row": ("lz4", "SET (toast_tuple_target = 8160)"),
}


async def measure(url: str, layout: str, count: int) -> tuple[float, float, float, float, float]:
    """Server CPU µs per event published, per payload read first and read again; publish
    wall µs per event; the average stored size in bytes."""
    payload = encode_payload(sample_payload(EventType.REPORT_AVAILABLE))
    raw = await asyncpg.connect(asyncpg_dsn(url))  # one session: its CPU stays countable
    engine = create_engine(url)
    try:
        compression, row_size = LAYOUTS[layout]
        await raw.execute(
            f"ALTER TABLE events ALTER COLUMN payload SET COMPRESSION {compression}, {row_size}"
        )
        created = await key_store.create_workspace(engine, "measure")
        assert created is not None
        events = [
            NewEvent(created.workspace_id, "report_available", "p", f"i-{n}",
                     payload + b" " * (n % 7), None)
            for n in range(count)
        ]  # fmt: skip
        cpu, wall = server_cpu_seconds(), time.perf_counter()
        published = []
        for start in range(0, count, PUBLISH_BATCH):
            published += await event_store.publish_batch(
                engine, events[start : start + PUBLISH_BATCH]
            )
        publish_cpu, publish_wall = server_cpu_seconds() - cpu, time.perf_counter() - wall
        ids = [event.event_id for event in published]
        read = await raw.prepare("SELECT payload FROM events WHERE id = ANY($1)")
        read_cpu = []
        for _ in range(READ_PASSES):
            cpu = server_cpu_seconds()
            for start in range(0, count, READ_BATCH):
                await read.fetch(ids[start : start + READ_BATCH])
            read_cpu.append(server_cpu_seconds() - cpu)
        stored = await raw.fetchval("SELECT avg(pg_column_size(payload)) FROM events")
    finally:
        await raw.close()
        await engine.dispose()
    per = 1e6 / count
    first, *again = read_cpu
    return (
        publish_cpu * per,
        first * per,
        sum(again) / len(again) * per,
        publish_wall * per,
        float(stored),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cluster = PostgresCluster().start()
    try:
        for _ in range(args.rounds):
            for layout in LAYOUTS:
                url = cluster.create_database()
                upgrade_to_head(url)
                publish, first, again, wall, stored = asyncio.run(measure(url, layout, args.events))
                print(
                    f"{layout:>17}: server CPU {publish:6.1f} µs per event published, "
                    f"{first:5.1f} per payload read first, {again:5.1f} read again; "
                    f"publish {wall:6.1f} µs per event; stored {stored / 1024:.1f} KB"
                )
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
