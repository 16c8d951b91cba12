"""The API process's CPU time per publish, and the publish rate: a deployment as the
harness starts it (SQLite: one process that also delivers; PostgreSQL: the API and one
worker), 16 concurrent clients publishing small interview_started events, no webhooks.
CPU per request is steadier than the rate on a noisy machine.

    .venv/bin/python scripts/measure_ingest_cpu.py [--url POSTGRESQL_URL] [--count N]

Compare two revisions by running each alternately, with PYTHONPATH pointing at its src.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

import aiohttp

from hookline.bench.harness import Deployment, publish_many, started_payload
from hookline.domain.events import EventType

CLIENTS = 16


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(url: str | None, count: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        workdir = Path(directory)
        database_url = url or f"sqlite:///{workdir}/hookline.db"
        # The processes inherit this one's environment, PYTHONPATH included.
        deployment = Deployment("ingest", workdir, database_url, 1 if url else 0, 50)
        deployment.prepare()
        deployment.start()
        try:
            assert deployment.api is not None and deployment.api.process is not None
            pid = deployment.api.process.pid
            async with aiohttp.ClientSession() as session:
                kind = EventType.INTERVIEW_STARTED
                warm, measured = started_payload("warm"), started_payload("ingest")
                await publish_many(deployment, session, kind, warm, 500, CLIENTS)
                cpu, wall = cpu_seconds(pid), time.perf_counter()
                await publish_many(deployment, session, kind, measured, count, CLIENTS)
                cpu, wall = cpu_seconds(pid) - cpu, time.perf_counter() - wall
        finally:
            deployment.stop()
    print(f"{1e6 * cpu / count:.0f} µs API CPU per publish, {count / wall:.0f} events/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="an empty PostgreSQL database (default: a SQLite file)")
    parser.add_argument("--count", type=int, default=5000)
    args = parser.parse_args()
    asyncio.run(measure(args.url, args.count))


if __name__ == "__main__":
    main()
