"""The drain alone, for comparing versions of the code side by side: N pending deliveries of
distinct 14 KB report_available events, seeded once, then drained to nginx by each
version in turn, on a copy of the same database, with the bare aiohttp ceiling measured
before each round. Prints each drain's rate, its ratio to that round's ceiling, the
delivering processes' CPU per delivery (from /proc, startup included) and their event
loops' threads' alone from the first arrival on, then the medians.

    .venv/bin/python scripts/measure_drain.py [--backend sqlite|postgresql] [--workers W]
        [--deliveries N] [--rounds R] NAME=PYTHONPATH ...

A version is a source tree put first on PYTHONPATH (``base=/tmp/base/src`` for a
worktree of the old code); an empty path is the installed code. The harness's drain
publishes its events through the API first, which takes most of its time; this seeds
them straight into the tables, so a pair of runs takes seconds, and more pairs fit in
the minutes the machine's speed holds still.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import aiohttp
from sqlalchemy import insert, text

from hookline.bench.harness import BenchConfig, rate_of, run_ceiling
from hookline.bench.postgres import PostgresCluster
from hookline.bench.processes import Child, free_port, python_module
from hookline.bench.receivers import start_receiver
from hookline.domain.events import EventType, encode_payload, sample_payload
from hookline.store.database import create_engine
from hookline.store.schema import deliveries, events, webhooks, workspaces

CONCURRENCY = "50"  # as the harness runs the ceiling and Hookline


async def seed(url: str, target: str, count: int) -> None:
    payload = encode_payload(sample_payload(EventType.REPORT_AVAILABLE))
    engine = create_engine(url)
    now = time.time()
    common = {"workspace_id": "ws", "created_at": now}
    async with engine.begin() as conn:
        await conn.execute(insert(workspaces).values(id="ws", name="ws", created_at=now))
        await conn.execute(
            insert(webhooks).values(
                id="wh", workspace_id="ws", posting_id="p", url=target,
                event_type="report_available", http_method="post", is_active=True,
                secret="whsec_bWVhc3VyZQ==", created_at=now, updated_at=now,
            )
        )  # fmt: skip
        await conn.execute(
            insert(events),
            [common | {"id": f"ev{n}", "event_type": "report_available", "posting_id": "p",
                       "interview_id": f"i{n}", "payload": payload}
             for n in range(count)],
        )  # fmt: skip
        await conn.execute(
            insert(deliveries),
            [common | {"id": f"dl{n}", "event_id": f"ev{n}", "webhook_id": "wh",
                       "status": "pending", "attempt_count": 0, "next_attempt_at": now,
                       "updated_at": now}
             for n in range(count)],
        )  # fmt: skip
        if conn.dialect.name == "postgresql":
            await conn.execute(text("ANALYZE"))  # as the worker's statistics keeper would
    await engine.dispose()


def cpu_seconds(pid: int, thread: int | None = None) -> float:
    """A process's CPU time, or one of its threads' (the main thread's id is the pid)."""
    stat = Path(f"/proc/{pid}/task/{thread}/stat" if thread else f"/proc/{pid}/stat")
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Copies:
    """A migrated template database, to be seeded, and a fresh copy of it for each drain."""

    def __init__(self, backend: str, work: Path) -> None:
        self._work = work
        self._cluster = PostgresCluster().start() if backend == "postgresql" else None
        self._copies = 0
        if self._cluster is None:
            self.template_url = f"sqlite:///{work / 'template.db'}"
        else:
            self.template_url = self._cluster.create_database()
        subprocess.run(
            python_module("hookline", "migrate"),
            env={**os.environ, "HOOKLINE_DATABASE_URL": self.template_url},
            check=True,
            capture_output=True,
        )

    def new(self) -> str:
        self._copies += 1
        if self._cluster is None:
            path = self._work / f"copy{self._copies}.db"
            shutil.copy(self._work / "template.db", path)
            return f"sqlite:///{path}"
        template = self.template_url.rsplit("/", 1)[1]
        self._cluster.psql(f"CREATE DATABASE copy{self._copies} TEMPLATE {template}")
        return self.template_url.rsplit("/", 1)[0] + f"/copy{self._copies}"

    def close(self) -> None:
        if self._cluster is not None:
            self._cluster.stop()


async def drain(url: str, pythonpath: str, workers: int, count: int, receiver, session, work):  # type: ignore[no-untyped-def]
    env = {
        **os.environ,
        "HOOKLINE_DATABASE_URL": url,
        "HOOKLINE_ALLOW_PRIVATE_URLS": "true",
        "HOOKLINE_WORKER_CONCURRENCY": CONCURRENCY,
        "HOOKLINE_ENDPOINT_CONCURRENCY": CONCURRENCY,
        "HOOKLINE_LOG_LEVEL": "warning",
    }
    env.pop("PYTHONPATH", None)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    if workers:
        commands = [python_module("hookline", "worker", "--no-migrate")] * workers
    else:  # SQLite: the one process that serves and delivers
        commands = [python_module("hookline", "serve", "--no-migrate", "--port", str(free_port()))]
    await receiver.reset(session)
    children = [Child(c, env, work / f"delivering-{n}.log").start() for n, c in enumerate(commands)]
    try:
        # The event loops' threads from the first arrival on: startup left out, and
        # the sender's thread apart (it signs and sends: compare whole processes' CPU).
        await receiver.wait_for_count(session, 1, limit_seconds=60)
        loops_then = sum(cpu_seconds(child.pid, child.pid) for child in children)
        stats = await receiver.wait_for_count(session, count, limit_seconds=600)
        cpu = sum(cpu_seconds(child.pid) for child in children)
        loops = sum(cpu_seconds(child.pid, child.pid) for child in children) - loops_then
    finally:
        for child in children:
            child.stop()
    assert stats["repeated"] == 0, stats
    return rate_of(stats), cpu / count, loops / count


async def main(args: argparse.Namespace) -> None:
    versions = [version.split("=", 1) for version in args.versions]
    work = Path(tempfile.mkdtemp(prefix="hookline-drain-"))
    receiver = start_receiver(work)
    copies = Copies(args.backend, work)
    try:
        await seed(copies.template_url, f"{receiver.url}/drain", args.deliveries)
        config = BenchConfig(drain_count=args.deliveries)
        ratios: dict[str, list[float]] = {name: [] for name, _ in versions}
        cpus: dict[str, list[float]] = {name: [] for name, _ in versions}
        loops: dict[str, list[float]] = {name: [] for name, _ in versions}
        workers = args.workers if args.backend == "postgresql" else 0
        async with aiohttp.ClientSession() as session:
            for round_number in range(args.rounds):
                ceiling = await run_ceiling(receiver, session, config, "aiohttp")
                line = [f"round {round_number}: ceiling {ceiling:6.0f}/s"]
                for name, path in versions:
                    rate, cpu, loop = await drain(
                        copies.new(), path, workers, args.deliveries, receiver, session, work
                    )
                    ratios[name].append(rate / ceiling)
                    cpus[name].append(cpu)
                    loops[name].append(loop)
                    line.append(
                        f"{name} {rate:6.0f}/s {rate / ceiling:.2f} {cpu * 1e6:4.0f} µs "
                        f"(loop {loop * 1e6:4.0f} µs)"
                    )
                print("  ".join(line), flush=True)
        for name, _ in versions:
            print(
                f"{name}: ratio median {statistics.median(ratios[name]):.2f} "
                f"({', '.join(f'{r:.2f}' for r in ratios[name])}), CPU per delivery median "
                f"{statistics.median(cpus[name]) * 1e6:.0f} µs, the event loops' "
                f"{statistics.median(loops[name]) * 1e6:.0f} µs"
            )
    finally:
        copies.close()
        receiver.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--workers", type=int, default=1, help="PostgreSQL's worker processes")
    parser.add_argument("--deliveries", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("versions", nargs="+", metavar="NAME=PYTHONPATH")
    asyncio.run(main(parser.parse_args()))
