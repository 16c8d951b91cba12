"""``hookline migrate``, ``serve`` and ``worker``: running Hookline."""

from __future__ import annotations

import logging
import sys

import click

from hookline import __version__
from hookline.cli.common import UserError, ensure_port_free, load_settings, migrated, own_command
from hookline.errors import HooklineError

log = logging.getLogger("hookline")


@click.command()
def migrate() -> None:
    """Apply the database migrations (HOOKLINE_DATABASE_URL)."""
    migrated(load_settings())
    click.echo("database is up to date")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--no-migrate", is_flag=True, help="Do not apply migrations on start.")
@click.option("--no-worker", is_flag=True, help="Serve the API only; run `hookline worker` apart.")
def serve(host: str, port: int, no_migrate: bool, no_worker: bool) -> None:
    """Run the API and, unless --no-worker, the delivery worker in one process."""
    import uvicorn

    from hookline.api.app import create_app
    from hookline.app import refuse_second_sqlite_worker

    settings = load_settings()
    ensure_port_free(host, port)
    if not no_migrate:
        migrated(settings)
    if not no_worker:
        try:
            refuse_second_sqlite_worker(settings)
        except HooklineError as exc:
            raise UserError(f"{exc} Or start this one with --no-worker.") from None
    log.info("Hookline %s listening on http://%s:%d", __version__, host, port)
    log.info(
        "Create an API key with: %s keys create --workspace NAME --role integrator",
        own_command(),
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


@click.command()
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    help="Attempts in flight at once [HOOKLINE_WORKER_CONCURRENCY].",
)
@click.option("--no-migrate", is_flag=True, help="Do not apply migrations on start.")
@click.option(
    "--metrics-port",
    type=int,
    help="Serve this worker's /metrics (Prometheus), /healthz and /readyz on 127.0.0.1:PORT.",
)
def worker(concurrency: int | None, no_migrate: bool, metrics_port: int | None) -> None:
    """Run only the delivery worker (any number of them on PostgreSQL)."""
    import uvloop

    from hookline.app import run_worker_process

    settings = load_settings()
    if concurrency is not None:
        settings = settings.changed(worker_concurrency=concurrency)
    if not no_migrate:
        migrated(settings)
    if metrics_port is not None:
        ensure_port_free("127.0.0.1", metrics_port, "--metrics-port")
    try:
        uvloop.run(run_worker_process(settings, status_port=metrics_port))
    except HooklineError as exc:
        raise UserError(str(exc)) from None


@click.command()
@click.option(
    "--url",
    default="http://127.0.0.1:8000/healthz",
    show_default=True,
    help="What to ask: /healthz (liveness) or /readyz (readiness), the API's or a worker's "
    "on its --metrics-port.",
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
