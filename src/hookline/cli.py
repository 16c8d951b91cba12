"""The ``hookline`` command."""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from hookline import __version__, cli_api, logs
from hookline.client import ApiError
from hookline.config import Settings, SettingsError
from hookline.domain.keys import Role
from hookline.store import keys as key_store
from hookline.store.database import DatabaseUrlError, async_url, create_engine, is_sqlite
from hookline.store.migrate import upgrade_to_head
from hookline.store.sqlite_lock import SecondWorkerError, SingleWorkerLock


def _settings() -> Settings:
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    logs.configure(settings.log_level, json_format=settings.log_format == "json")
    return settings


log = logging.getLogger("hookline")


def _migrate(settings: Settings) -> None:
    try:
        upgrade_to_head(settings.database_url)
    except DatabaseUrlError as exc:
        raise click.ClickException(str(exc)) from None


def _run_with_engine(settings: Settings, work):  # type: ignore[no-untyped-def]
    async def runner():  # type: ignore[no-untyped-def]
        engine = create_engine(settings.database_url)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    return asyncio.run(runner())


def _check_single_sqlite_worker(settings: Settings) -> None:
    """Say clearly, before serving, that SQLite's one worker is already running elsewhere."""
    url = async_url(settings.database_url)
    if not is_sqlite(url):
        return
    probe = SingleWorkerLock(url.database or "")
    try:
        probe.acquire()
    except SecondWorkerError as exc:
        raise click.ClickException(f"{exc} Or start this one with --no-worker.") from None
    probe.release()


def _own_command() -> str:
    """How this shell can run hookline again: ``.venv/bin/hookline`` under ``make run``."""
    command = Path(sys.argv[0])
    if command.name != "hookline":
        return "hookline"
    try:
        return str(command.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(command)


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@click.group()
@click.version_option(__version__, prog_name="hookline")
def main() -> None:
    """Hookline: signed, retried, logged webhooks for interview events."""
    logs.configure("info", json_format=False)


@main.command()
def migrate() -> None:
    """Apply the database migrations (HOOKLINE_DATABASE_URL)."""
    _migrate(_settings())
    click.echo("database is up to date")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--no-migrate", is_flag=True, help="Do not apply migrations on start.")
@click.option("--no-worker", is_flag=True, help="Serve the API only; run `hookline worker` apart.")
def serve(host: str, port: int, no_migrate: bool, no_worker: bool) -> None:
    """Run the API and, unless --no-worker, the delivery worker in one process."""
    import uvicorn

    from hookline.api.app import create_app

    settings = _settings()
    if not no_migrate:
        _migrate(settings)
    if not no_worker:
        _check_single_sqlite_worker(settings)
    log.info("Hookline %s listening on http://%s:%d", __version__, host, port)
    log.info(
        "Create an API key with: %s keys create --workspace NAME --role integrator",
        _own_command(),
    )
    uvicorn.run(
        create_app(settings, run_worker=not no_worker),
        host=host,
        port=port,
        loop="uvloop" if sys.platform != "win32" else "asyncio",
        log_level=settings.log_level,
        log_config=None,  # logging is configured above, text or JSON
        access_log=False,
        timeout_graceful_shutdown=int(settings.delivery_timeout) + 5,
    )


@main.command()
@click.option(
    "--concurrency", type=int, help="Attempts in flight at once [HOOKLINE_WORKER_CONCURRENCY]."
)
@click.option("--no-migrate", is_flag=True, help="Do not apply migrations on start.")
@click.option(
    "--metrics-port",
    type=int,
    help="Serve this worker's /metrics (Prometheus) and /healthz on 127.0.0.1:PORT.",
)
def worker(concurrency: int | None, no_migrate: bool, metrics_port: int | None) -> None:
    """Run only the delivery worker (any number of them on PostgreSQL)."""
    import dataclasses

    import uvloop

    from hookline.delivery.service import run_worker_process

    settings = _settings()
    if concurrency is not None:
        if concurrency < 1:
            raise click.BadParameter("must be at least 1", param_hint="--concurrency")
        settings = dataclasses.replace(settings, worker_concurrency=concurrency)
    if not no_migrate:
        _migrate(settings)
    work = run_worker_process(settings)
    if metrics_port is not None:
        from hookline.worker_status import run_with_status_endpoint

        work = run_with_status_endpoint(work, settings.database_url, "127.0.0.1", metrics_port)
    try:
        uvloop.run(work)
    except SecondWorkerError as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@click.option(
    "--url",
    default="http://127.0.0.1:8000/healthz",
    show_default=True,
    help="The /healthz to ask: the API's, or a worker's on its --metrics-port.",
)
@click.option("--timeout", default=5.0, show_default=True, help="Seconds to wait for the answer.")
def healthcheck(url: str, timeout: float) -> None:
    """Exit 0 if URL answers 200, else 1: a container's health check."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            status = answer.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"{url}: {exc}") from None
    if status != 200:
        raise click.ClickException(f"{url} answered {status}")
    click.echo(f"{url}: healthy")


@main.group()
def keys() -> None:
    """Manage workspaces' API keys."""


@keys.command("create")
@click.option("--workspace", required=True, help="Workspace name; created if new.")
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role]),
    default=Role.INTEGRATOR.value,
    show_default=True,
    help="integrator: manage webhooks; publisher: publish events.",
)
def keys_create(workspace: str, role: str) -> None:
    """Create an API key. The key is printed once, as the last line; only its hash is kept."""
    settings = _settings()
    _migrate(settings)
    created = _run_with_engine(
        settings, lambda engine: key_store.create_key(engine, workspace, Role(role))
    )
    click.echo(
        f"Created {created.info.role.value} key {created.info.key_id} for workspace "
        f"{workspace!r}. Store it now: it is not shown again."
    )
    click.echo(created.key)


@keys.command("list")
def keys_list() -> None:
    """List API keys (ids, never the keys themselves)."""
    settings = _settings()
    _migrate(settings)
    found = _run_with_engine(settings, key_store.list_keys)
    click.echo(f"{'KEY ID':<26} {'WORKSPACE':<20} {'ROLE':<11} {'CREATED':<24} REVOKED")
    for info in found:
        click.echo(
            f"{info.key_id:<26} {info.workspace:<20} {info.role.value:<11} "
            f"{_when(info.created_at):<24} {_when(info.revoked_at)}"
        )


@keys.command("revoke")
@click.argument("key_id")
def keys_revoke(key_id: str) -> None:
    """Revoke a key by its id; it stops working at once."""
    settings = _settings()
    _migrate(settings)
    if not _run_with_engine(settings, lambda engine: key_store.revoke_key(engine, key_id)):
        raise click.ClickException(f"no active key with id {key_id} (see `hookline keys list`)")
    click.echo(f"revoked {key_id}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=9000, show_default=True, type=int)
@click.option(
    "--secret",
    "secrets",
    multiple=True,
    help="A webhook's whsec_… secret, to verify each delivery (repeat for several webhooks).",
)
def listen(host: str, port: int, secrets: tuple[str, ...]) -> None:
    """Receive deliveries locally: verify each signature and print the event."""
    from aiohttp import web

    from hookline.listen import make_app

    click.echo(f"Listening on http://{host}:{port}/ (any path); Ctrl+C to stop")
    web.run_app(make_app(list(secrets), click.echo), host=host, port=port, print=None)


@main.command()
@click.option("--interviews", type=click.IntRange(1, 100), default=3, show_default=True)
@click.option("--analysis-delay", type=float, default=1.0, show_default=True)
def demo(interviews: int, analysis_delay: float) -> None:
    """Hookline, a listener and a few simulated interviews, end to end, on a temporary
    database; ends with a summary."""
    from hookline.demo import run_demo

    try:
        run_demo(interviews, analysis_delay)
    except ApiError as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@click.option("--quick", is_flag=True, help="Small counts: every scenario in about two minutes.")
@click.option(
    "--backend",
    "backends",
    multiple=True,
    type=click.Choice(["sqlite", "postgresql"]),
    help="Only these backends (default: both, PostgreSQL when installed).",
)
@click.option("--drain", type=int, help="Deliveries in the drain scenario [20000].")
@click.option("--fanout-webhooks", type=int, help="Webhooks in the fan-out scenario [1000].")
@click.option("--fanout-events", type=int, help="Events published in the fan-out scenario [10].")
@click.option("--ingest", type=int, help="Events published in the ingest scenario [5000].")
@click.option("--steady-rate", type=float, help="Events/s offered in the steady scenario [200].")
@click.option("--steady-seconds", type=float, help="Length of the steady scenario [30].")
@click.option("--backlog-deep", type=int, help="Pending deliveries, deep backlog [500000].")
@click.option("--backlog-shallow", type=int, help="Pending deliveries, shallow backlog [10000].")
@click.option("--concurrency", type=int, help="Sender concurrency, ceiling and Hookline [50].")
@click.option(
    "--scenario",
    "scenarios",
    multiple=True,
    type=click.Choice(["drain", "fan-out", "ingest", "steady", "backlog"]),
    help="Only these scenarios (default: all).",
)
@click.option(
    "--builtin-receiver", is_flag=True, help="Use the built-in receiver even where nginx is."
)
@click.option(
    "--json", "json_path", type=click.Path(dir_okay=False), help="Write the table as JSON."
)
def bench(
    quick: bool,
    backends: tuple[str, ...],
    scenarios: tuple[str, ...],
    builtin_receiver: bool,
    json_path: str | None,
    **counts: int | None,
) -> None:
    """Measure Hookline against a bare client's ceiling on this machine (loopback only)."""
    import dataclasses

    import uvloop

    from hookline.bench.harness import BenchConfig, format_table, run, write_json

    config = BenchConfig()
    if quick:
        config = dataclasses.replace(
            config,
            drain_count=3000,
            fanout_webhooks=200,
            fanout_events=5,
            ingest_count=1500,
            steady_seconds=5,
            backlog_deep=50_000,
            backlog_shallow=3000,
            backlog_measured=3000,
        )
    names = {
        "drain": "drain_count",
        "fanout_webhooks": "fanout_webhooks",
        "fanout_events": "fanout_events",
        "ingest": "ingest_count",
        "steady_rate": "steady_rate",
        "steady_seconds": "steady_seconds",
        "backlog_deep": "backlog_deep",
        "backlog_shallow": "backlog_shallow",
        "concurrency": "concurrency",
    }
    overrides = {names[k]: v for k, v in counts.items() if v is not None}
    if "backlog_shallow" in overrides:
        overrides["backlog_measured"] = overrides["backlog_shallow"]
    if backends:
        overrides["backends"] = backends
    if scenarios:
        overrides["scenarios"] = scenarios
    if builtin_receiver:
        overrides["use_nginx"] = False
    config = dataclasses.replace(config, **overrides)
    report = uvloop.run(run(config, lambda line: click.echo(line, err=True)))
    click.echo(format_table(report))
    if json_path:
        write_json(report, Path(json_path))
        click.echo(f"written to {json_path}", err=True)


main.add_command(cli_api.webhooks)
main.add_command(cli_api.events)
main.add_command(cli_api.simulate)
