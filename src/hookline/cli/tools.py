"""``hookline listen``, ``demo`` and ``bench``: tools around a Hookline."""

from __future__ import annotations

from pathlib import Path

import click

from hookline.cli.common import ensure_port_free
from hookline.tools.client import ApiError


@click.command()
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

    from hookline.tools.listen import make_app

    ensure_port_free(host, port)
    click.echo(f"Listening on http://{host}:{port}/ (any path); Ctrl+C to stop")
    web.run_app(make_app(list(secrets), click.echo), host=host, port=port, print=None)


@click.command()
@click.option("--interviews", type=click.IntRange(1, 100), default=3, show_default=True)
@click.option("--analysis-delay", type=float, default=1.0, show_default=True)
def demo(interviews: int, analysis_delay: float) -> None:
    """Hookline, a listener and a few simulated interviews, end to end, on a temporary
    database; ends with a summary."""
    from hookline.tools.demo import run_demo

    try:
        run_demo(interviews, analysis_delay)
    except ApiError as exc:
        raise click.ClickException(str(exc)) from None


@click.command()
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
    "--ceiling-client",
    "ceiling_clients",
    multiple=True,
    type=click.Choice(["aiohttp", "pyreqwest", "pycurl", "pycurl-select"]),
    help="Bare clients measured as ceilings, the first the reference "
    "(default: aiohttp, then pycurl-select: libcurl's multi interface on a plain loop, "
    "the library Hookline sends with, bare).",
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
    ceiling_clients: tuple[str, ...],
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
    if ceiling_clients:
        overrides["ceiling_clients"] = ceiling_clients
    if builtin_receiver:
        overrides["use_nginx"] = False
    config = dataclasses.replace(config, **overrides)
    report = uvloop.run(run(config, lambda line: click.echo(line, err=True)))
    click.echo(format_table(report))
    if json_path:
        write_json(report, Path(json_path))
        click.echo(f"written to {json_path}", err=True)
