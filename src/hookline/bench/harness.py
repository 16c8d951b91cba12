"""Runs every scenario against the ceiling in one process tree, on loopback, and reports.

Topologies: on SQLite the single ``hookline serve`` process; on PostgreSQL an API-only
``serve --no-worker`` and one or two ``hookline worker`` processes.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from statistics import median
from typing import Any

import aiohttp

from hookline.bench.postgres import PostgresCluster, postgres_bindir
from hookline.bench.processes import (
    Child,
    base_env,
    free_port,
    python_module,
    wait_until_healthy,
)
from hookline.bench.receivers import Receiver, start_receiver
from hookline.domain.events import EventType, sample_payload
from hookline.store.database import create_engine
from hookline.store.queue import add_pending_deliveries


@dataclass(frozen=True)
class BenchConfig:
    drain_count: int = 20_000
    fanout_webhooks: int = 1_000
    fanout_events: int = 10
    ingest_count: int = 5_000
    ingest_clients: int = 32
    steady_rate: float = 200.0
    steady_seconds: float = 30.0
    backlog_deep: int = 500_000
    backlog_shallow: int = 10_000
    backlog_measured: int = 10_000
    concurrency: int = 50
    backends: tuple[str, ...] = ("sqlite", "postgresql")
    scenarios: tuple[str, ...] = ("drain", "fan-out", "ingest", "steady", "backlog")
    use_nginx: bool = True  # when the machine has it
    # The bare clients measured as ceilings: the first is the reference the targets name,
    # the second the client Hookline sends with.
    ceiling_clients: tuple[str, ...] = ("aiohttp", "pycurl-select")


@dataclass
class Row:
    topology: str
    scenario: str
    metric: str
    value: float
    ceiling: float | None = None
    target: str = ""
    peak_rss_mb: dict[str, float] = field(default_factory=dict)
    native_ceiling: float | None = None  # the second bare client's, when measured

    @property
    def ratio(self) -> float | None:
        return None if not self.ceiling else self.value / self.ceiling

    @property
    def native_ratio(self) -> float | None:
        return None if not self.native_ceiling else self.value / self.native_ceiling


class CountMismatch(RuntimeError):
    """The receiver did not count every delivery exactly once."""


async def settled_stats(
    receiver: Receiver, session: aiohttp.ClientSession, expected: int | None
) -> dict[str, Any]:
    """The receiver's count once late arrivals had a moment; every delivery must have been
    counted exactly once (``expected=None``: only that none came twice)."""
    await asyncio.sleep(0.3)
    stats = await receiver.stats(session)
    if stats["repeated"] or (expected is not None and stats["count"] != expected):
        raise CountMismatch(f"expected {expected} deliveries, each once; the receiver saw {stats}")
    return stats


def rate_of(stats: dict[str, Any]) -> float:
    """Deliveries per second between the first and the last arrival."""
    elapsed = stats["last_at"] - stats["first_at"]
    return (stats["count"] - 1) / elapsed if elapsed > 0 else float("nan")


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


class Deployment:
    """One Hookline installation: a database, an API process and its workers."""

    def __init__(
        self, name: str, workdir: Path, database_url: str, workers: int, concurrency: int
    ) -> None:
        self.name = name
        self.workdir = workdir
        self.database_url = database_url
        self.worker_count = workers  # 0: the API process delivers too (SQLite)
        self.port = free_port()
        self.api_url = f"http://127.0.0.1:{self.port}"
        self.env = base_env(
            HOOKLINE_DATABASE_URL=database_url,
            HOOKLINE_ALLOW_PRIVATE_URLS="true",
            HOOKLINE_WORKER_CONCURRENCY=str(concurrency),
            HOOKLINE_ENDPOINT_CONCURRENCY=str(concurrency),
            HOOKLINE_LOG_LEVEL="warning",
        )
        self.api: Child | None = None
        self.workers: list[Child] = []
        self.integrator_key = ""
        self.publisher_key = ""

    def _cli(self, *args: str) -> str:
        done = subprocess.run(
            python_module("hookline", *args), env=self.env, capture_output=True, check=True
        )
        return done.stdout.decode()

    def prepare(self) -> None:
        self._cli("migrate")
        self.integrator_key = self._cli("keys", "create", "--workspace", "bench").split()[-1]
        self.publisher_key = self._cli(
            "keys", "create", "--workspace", "bench", "--role", "publisher"
        ).split()[-1]

    def start_api(self, deliver: bool) -> None:
        """The API; on SQLite with ``deliver`` it is also the one worker."""
        args = ["serve", "--no-migrate", "--port", str(self.port)]
        if not (deliver and self.worker_count == 0):
            args.append("--no-worker")
        self.api = Child(python_module("hookline", *args), self.env, self.workdir / "api.log")
        self.api.start()
        wait_until_healthy(f"{self.api_url}/healthz", self.api.process)  # type: ignore[arg-type]

    def start_workers(self) -> None:
        for n in range(self.worker_count):
            worker = Child(
                python_module("hookline", "worker", "--no-migrate"),
                self.env,
                self.workdir / f"worker-{n}.log",
            )
            self.workers.append(worker.start())

    def start_delivery(self) -> None:
        """After a set-up with ``start_api(deliver=False)``: start delivering."""
        if self.worker_count == 0:
            self.stop()
            self.start_api(deliver=True)
        else:
            self.start_workers()

    def start(self) -> None:
        """API and delivery, as this topology runs them."""
        self.start_api(deliver=True)
        self.start_workers()

    def peak_rss(self) -> dict[str, float]:
        found = {}
        for label, child in [
            ("api", self.api),
            *((f"worker{i}", w) for i, w in enumerate(self.workers)),
        ]:
            rss = child.peak_rss_mb() if child else None
            if rss is not None:
                found[label] = round(rss, 1)
        return found

    def stop(self) -> None:
        for child in [*self.workers, self.api]:
            if child is not None:
                child.stop()
        self.workers = []
        self.api = None

    # --- the API, as a client ---

    def headers(self, key: str) -> dict[str, str]:
        return {"X-API-KEY": key}

    async def create_webhook(
        self, session: aiohttp.ClientSession, url: str, posting: str, event_type: str
    ) -> str:
        body = {"posting_id": posting, "url": url, "event_type": event_type}
        async with session.post(
            f"{self.api_url}/api/webhook/create",
            json=body,
            headers=self.headers(self.integrator_key),
        ) as response:
            assert response.status == 200, await response.text()
            return (await response.json())["webhook_id"]

    async def publish(self, session: aiohttp.ClientSession, event_type: str, payload: dict) -> str:
        async with session.post(
            f"{self.api_url}/api/events",
            json={"event_type": event_type, "payload": payload},
            headers=self.headers(self.publisher_key),
        ) as response:
            assert response.status == 202, await response.text()
            return (await response.json())["event_id"]


async def publish_many(
    deployment: Deployment,
    session: aiohttp.ClientSession,
    event_type: EventType,
    payload_for: Callable[[int], dict],
    count: int,
    clients: int,
) -> list[float]:
    """Publish ``count`` events from ``clients`` concurrent clients; each call's latency."""
    numbers = iter(range(count))
    latencies: list[float] = []

    async def client() -> None:
        for n in numbers:
            started = time.perf_counter()
            await deployment.publish(session, event_type.value, payload_for(n))
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies


def report_payload(posting: str) -> Callable[[int], dict]:
    template = sample_payload(EventType.REPORT_AVAILABLE) | {"posting_id": posting}
    return lambda n: template | {"interview_id": f"bench-{n}"}


def started_payload(posting: str) -> Callable[[int], dict]:
    template = sample_payload(EventType.INTERVIEW_STARTED) | {"posting_id": posting}
    return lambda n: template | {"interview_id": f"bench-{n}", "timestamp": time.time()}


async def run_ceiling(
    receiver: Receiver, session: aiohttp.ClientSession, config: BenchConfig, client: str
) -> float:
    await receiver.reset(session)
    done = await asyncio.create_subprocess_exec(
        *python_module(
            "hookline.bench.ceiling",
            "--client",
            client,
            "--url",
            f"{receiver.url}/ceiling",
            "--count",
            str(config.drain_count),
            "--concurrency",
            str(config.concurrency),
        )
    )
    await done.wait()
    stats = await receiver.stats(session)
    assert stats["count"] == config.drain_count and stats["repeated"] == 0, stats
    return rate_of(stats)


class Ceilings:
    """The bare clients' rates, measured again around each throughput scenario: this
    machine's speed drifts by a third within minutes, so a ceiling measured once at the
    start of a run and a scenario measured minutes later were no longer side by side. A
    scenario's ceiling is the mean of the runs just before and just after it."""

    def __init__(
        self,
        receiver: Receiver,
        session: aiohttp.ClientSession,
        config: BenchConfig,
        log: Callable[[str], None],
    ) -> None:
        self._receiver = receiver
        self._session = session
        self._config = config
        self.log = log
        self._runs: dict[str, list[float]] = {client: [] for client in config.ceiling_clients}

    async def measure(self) -> list[float]:
        """One run of each client, the reference first."""
        rates = []
        for client, runs in self._runs.items():
            self.log(f"ceiling: a bare {client} client, {self._config.drain_count} signed posts")
            runs.append(await run_ceiling(self._receiver, self._session, self._config, client))
            rates.append(runs[-1])
        return rates

    @staticmethod
    def between(before: list[float], after: list[float]) -> tuple[float | None, float | None]:
        """The reference and the native ceiling for a scenario measured between the two."""
        means = [(b + a) / 2 for b, a in zip(before, after, strict=True)]
        return (means[0] if means else None, means[1] if len(means) > 1 else None)

    def rows(self) -> list[Row]:
        """Each client's median run, and how many runs there were."""
        return [
            Row(f"bare {client}", "ceiling", f"deliveries/s, median of {len(runs)}", median(runs))
            for client, runs in self._runs.items()
            if runs
        ]


async def scenario_drain(
    deployment: Deployment, receiver: Receiver, session: aiohttp.ClientSession, config: BenchConfig
) -> tuple[float, dict[str, Any]]:
    """N report_available deliveries accepted first, then the workers start."""
    deployment.start_api(deliver=False)
    await deployment.create_webhook(session, f"{receiver.url}/drain", "drain", "report_available")
    await publish_many(
        deployment,
        session,
        EventType.REPORT_AVAILABLE,
        report_payload("drain"),
        config.drain_count,
        16,
    )
    await receiver.reset(session)
    deployment.start_delivery()
    stats = await receiver.wait_for_count(session, config.drain_count, limit_seconds=600)
    await settled_stats(receiver, session, config.drain_count)
    return rate_of(stats), stats


async def scenario_fanout(
    deployment: Deployment, receiver: Receiver, session: aiohttp.ClientSession, config: BenchConfig
) -> tuple[float, dict[str, Any]]:
    deployment.start()
    for _ in range(config.fanout_webhooks):
        await deployment.create_webhook(
            session, f"{receiver.url}/fanout", "fanout", "report_available"
        )
    await receiver.reset(session)
    payload = report_payload("fanout")
    for n in range(config.fanout_events):
        await deployment.publish(session, "report_available", payload(n))
    expected = config.fanout_webhooks * config.fanout_events
    stats = await receiver.wait_for_count(session, expected, limit_seconds=600)
    await settled_stats(receiver, session, expected)
    return rate_of(stats), stats


async def scenario_ingest(
    deployment: Deployment, session: aiohttp.ClientSession, config: BenchConfig
) -> tuple[float, float, float]:
    """Events/s through the API from concurrent clients (no webhooks: storage only)."""
    deployment.start()
    started = time.perf_counter()
    latencies = await publish_many(
        deployment,
        session,
        EventType.INTERVIEW_STARTED,
        started_payload("ingest"),
        config.ingest_count,
        config.ingest_clients,
    )
    elapsed = time.perf_counter() - started
    return (
        config.ingest_count / elapsed,
        percentile(latencies, 50) * 1000,
        percentile(latencies, 99) * 1000,
    )


async def scenario_steady(
    deployment: Deployment, receiver: Receiver, session: aiohttp.ClientSession, config: BenchConfig
) -> dict[str, float]:
    """An open-loop offer of ``steady_rate`` events/s; publish and event-to-delivery latency."""
    deployment.start()
    await deployment.create_webhook(
        session, f"{receiver.url}/steady", "steady", "interview_started"
    )
    payload = started_payload("steady")
    # One delivery before the clock starts: the worker processes are up and listening.
    await receiver.reset(session)
    await deployment.publish(session, "interview_started", payload(-1))
    await receiver.wait_for_count(session, 1, limit_seconds=60)
    await receiver.reset(session)
    total = int(config.steady_rate * config.steady_seconds)
    published: dict[str, float] = {}
    publish_latencies: list[float] = []

    async def one(n: int) -> None:
        started_wall, started = time.time(), time.perf_counter()
        event_id = await deployment.publish(session, "interview_started", payload(n))
        publish_latencies.append(time.perf_counter() - started)
        published[event_id] = started_wall

    t0 = time.perf_counter()
    tasks = []
    for n in range(total):
        await asyncio.sleep(max(0.0, t0 + n / config.steady_rate - time.perf_counter()))
        tasks.append(asyncio.create_task(one(n)))
    await asyncio.gather(*tasks)
    await receiver.wait_for_count(session, total, limit_seconds=120)
    await settled_stats(receiver, session, total)
    arrivals = await receiver.arrivals(session)
    delays = [arrivals[e] - t for e, t in published.items() if e in arrivals]
    return {
        "publish_p50_ms": percentile(publish_latencies, 50) * 1000,
        "publish_p99_ms": percentile(publish_latencies, 99) * 1000,
        "delivery_p50_ms": percentile(delays, 50) * 1000,
        "delivery_p95_ms": percentile(delays, 95) * 1000,
        "delivery_p99_ms": percentile(delays, 99) * 1000,
    }


async def seed_backlog(database_url: str, event_id: str, webhook_id: str, count: int) -> None:
    """``count`` pending deliveries of one event, through the store's bulk function:
    publishing each would make the set-up, not the drain, the thing measured."""
    engine = create_engine(database_url)
    try:
        await add_pending_deliveries(engine, event_id, webhook_id, count, "dlv_bench_")
    finally:
        await engine.dispose()


async def scenario_backlog(
    deployment: Deployment,
    receiver: Receiver,
    session: aiohttp.ClientSession,
    config: BenchConfig,
    pending: int,
) -> float:
    """Drain rate over the first ``backlog_measured`` deliveries with ``pending`` waiting."""
    deployment.start_api(deliver=False)
    webhook_id = await deployment.create_webhook(
        session, f"{receiver.url}/backlog", "backlog", "report_available"
    )
    event_id = await deployment.publish(session, "report_available", report_payload("backlog")(0))
    await seed_backlog(deployment.database_url, event_id, webhook_id, pending - 1)
    await receiver.reset(session)
    deployment.start_delivery()
    stats = await receiver.wait_for_count(
        session, min(config.backlog_measured, pending), limit_seconds=600
    )
    await settled_stats(receiver, session, expected=None)
    return rate_of(stats)


class Topologies:
    """Fresh deployments, one per scenario, of each topology the machine can run."""

    def __init__(self, config: BenchConfig, workdir: Path) -> None:
        self.config = config
        self.workdir = workdir
        self.postgres: PostgresCluster | None = None
        self.names = ["sqlite"] if "sqlite" in config.backends else []
        if "postgresql" in config.backends and _postgres_available():
            self.postgres = PostgresCluster().start()
            self.names += ["postgresql-1-worker", "postgresql-2-workers"]
        self._count = 0

    def new(self, name: str) -> Deployment:
        self._count += 1
        workdir = self.workdir / f"{self._count}-{name}"
        workdir.mkdir()
        if name == "sqlite":
            url, workers = f"sqlite:///{workdir / 'hookline.db'}", 0
        else:
            assert self.postgres is not None
            url, workers = self.postgres.create_database(), (2 if "2" in name else 1)
        deployment = Deployment(name, workdir, url, workers, self.config.concurrency)
        deployment.prepare()
        return deployment

    def close(self) -> None:
        if self.postgres is not None:
            self.postgres.stop()


def _postgres_available() -> bool:
    try:
        postgres_bindir()
    except RuntimeError:
        return False
    return True


async def run(config: BenchConfig, log: Callable[[str], None]) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="hookline-bench-"))
    receiver = start_receiver(workdir, config.use_nginx)
    topologies = Topologies(config, workdir)
    rows: list[Row] = []
    connector = aiohttp.TCPConnector(limit=200)
    try:
        async with aiohttp.ClientSession(connector=connector) as session:
            ceilings = Ceilings(receiver, session, config, log)
            for name in topologies.names:
                rows += await _run_topology(name, topologies, receiver, session, config, ceilings)
            rows[:0] = ceilings.rows()
    finally:
        topologies.close()
        receiver.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return {
        "machine": _machine(),
        "receiver": receiver.name,
        "config": asdict(config),
        "rows": [asdict(r) | {"ratio": r.ratio, "native_ratio": r.native_ratio} for r in rows],
    }


THROUGHPUT_TARGETS = {
    "sqlite": ">= 1.0 x ceiling",
    "postgresql-1-worker": ">= 0.7 x ceiling",
    "postgresql-2-workers": ">= 1.0 x ceiling",
}
INGEST_TARGETS = {
    "sqlite": ">= 2000",
    "postgresql-1-worker": ">= 1500",
    "postgresql-2-workers": ">= 1500",
}
STEADY_TARGETS = {"publish_p99_ms": "<= 10", "delivery_p95_ms": "<= 25", "delivery_p99_ms": "<= 50"}


async def _run_topology(
    name: str,
    topologies: Topologies,
    receiver: Receiver,
    session: aiohttp.ClientSession,
    config: BenchConfig,
    ceilings: Ceilings,
) -> list[Row]:
    """Each scenario on a fresh deployment of this topology; throughput against both
    ceilings (the reference one, and the bare client of the library Hookline sends with),
    as measured just before and just after it."""
    target = THROUGHPUT_TARGETS.get(name, "")
    log = ceilings.log

    async def measure(scenario: str, work: Callable[[Deployment], Awaitable[Any]]):  # type: ignore[no-untyped-def]
        deployment = topologies.new(name)
        log(f"{name}: {scenario}")
        try:
            result = await work(deployment)
            return result, deployment.peak_rss()
        finally:
            deployment.stop()

    rows = []
    throughput = {"drain": scenario_drain, "fan-out": scenario_fanout}
    before = None
    for scenario, run_scenario in throughput.items():
        if scenario not in config.scenarios:
            continue
        before = before or await ceilings.measure()
        (rate, _), rss = await measure(
            scenario,
            lambda d, run_scenario=run_scenario: run_scenario(d, receiver, session, config),
        )
        after = await ceilings.measure()
        ceiling, native = Ceilings.between(before, after)
        rows.append(Row(name, scenario, "deliveries/s", rate, ceiling, target, rss, native))
        before = after  # the next scenario's "before"
    if "ingest" in config.scenarios:
        (rate, p50, p99), rss = await measure(
            "ingest", lambda d: scenario_ingest(d, session, config)
        )
        rows.append(Row(name, "ingest", "events/s", rate, None, INGEST_TARGETS.get(name, ""), rss))
        rows.append(Row(name, "ingest", "publish p50 ms", p50, None, "", rss))
        rows.append(Row(name, "ingest", "publish p99 ms", p99, None, "", rss))
    if "steady" in config.scenarios:
        steady, rss = await measure(
            "steady", lambda d: scenario_steady(d, receiver, session, config)
        )
        for metric, value in steady.items():
            target = STEADY_TARGETS.get(metric, "")
            rows.append(Row(name, "steady", metric.replace("_", " "), value, None, target, rss))
    if "backlog" in config.scenarios:
        # The shallow backlog is drained before and after the deep one, which takes minutes
        # to seed: the deep one is compared with the mean of the two, as beside it.
        runs = []
        for label, pending in (
            ("shallow", config.backlog_shallow),
            ("deep", config.backlog_deep),
            ("shallow, again", config.backlog_shallow),
        ):
            rate, rss = await measure(
                f"backlog ({label})",
                lambda d, pending=pending: scenario_backlog(d, receiver, session, config, pending),
            )
            runs.append((rate, rss))
        (before, rss), (deep, deep_rss), (after, _) = runs
        shallow = (before + after) / 2
        metric = f"deliveries/s, {config.backlog_shallow} pending"
        rows.append(Row(name, "backlog", metric, shallow, None, "", rss))
        metric = f"deliveries/s, {config.backlog_deep} pending"
        rows.append(Row(name, "backlog", metric, deep, shallow, ">= 0.8 x shallow", deep_rss))
    return rows


def _machine() -> dict[str, Any]:
    import os
    import platform

    return {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def format_table(report: dict[str, Any]) -> str:
    clients = report["config"]["ceiling_clients"]
    second = f"vs {clients[1]}" if len(clients) > 1 else ""
    lines = [
        f"receiver: {report['receiver']}",
        "ratio: over the first ceiling (for the deep backlog: over the shallow backlog)"
        + (f"; {second}: over the second ceiling" if second else ""),
        f"{'topology':<22} {'scenario':<9} {'metric':<28} {'value':>10} {'ratio':>7} "
        f"{second:>16} {'target':<17} peak RSS MB",
    ]
    for row in report["rows"]:
        ratio = f"{row['ratio']:.2f}" if row["ratio"] is not None else ""
        native = f"{row['native_ratio']:.2f}" if row.get("native_ratio") is not None else ""
        rss = ", ".join(f"{k} {v:.0f}" for k, v in row["peak_rss_mb"].items())
        lines.append(
            f"{row['topology']:<22} {row['scenario']:<9} {row['metric']:<28} "
            f"{row['value']:>10.1f} {ratio:>7} {native:>16} {row['target']:<17} {rss}"
        )
    return "\n".join(lines)


def write_json(report: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(report, indent=2) + "\n")
