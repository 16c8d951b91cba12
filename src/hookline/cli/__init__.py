"""The ``hookline`` command: one module per command group."""

from __future__ import annotations

import click

from hookline import __version__, logs
from hookline.cli import api, keys, server, tools


@click.group()
@click.version_option(__version__, prog_name="hookline")
def main() -> None:
    """Hookline: signed, retried, logged webhooks for interview events."""
    logs.configure("info", json_format=False)


for command in (
    server.migrate,
    server.serve,
    server.worker,
    server.healthcheck,
    keys.workspaces,
    keys.keys,
    api.webhooks,
    api.events,
    api.simulate,
    tools.listen,
    tools.demo,
    tools.bench,
):
    main.add_command(command)
