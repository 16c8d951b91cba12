"""``hookline keys``: issue, list and revoke workspaces' API keys on the server."""

from __future__ import annotations

import click

from hookline.cli.common import UserError, load_settings, migrated, with_services
from hookline.domain.keys import Role
from hookline.errors import HooklineError
from hookline.text import table, when


@click.group()
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
    settings = migrated(load_settings())
    try:
        created = with_services(settings, lambda s: s.keys.create(workspace, Role(role)))
    except HooklineError as exc:
        raise UserError(f"--workspace: {exc}") from None
    click.echo(
        f"Created {created.info.role.value} key {created.info.key_id} for workspace "
        f"{workspace!r}. Store it now: it is not shown again."
    )
    click.echo(created.key)


@keys.command("list")
def keys_list() -> None:
    """List API keys (ids, never the keys themselves)."""
    settings = migrated(load_settings())
    found = with_services(settings, lambda s: s.keys.list())
    rows = [
        {
            "key_id": info.key_id,
            "workspace": info.workspace,
            "role": info.role.value,
            "created": when(info.created_at),
            "revoked": when(info.revoked_at),
        }
        for info in found
    ]
    click.echo(table(rows, ("key_id", "workspace", "role", "created", "revoked")))


@keys.command("revoke")
@click.argument("key_id")
def keys_revoke(key_id: str) -> None:
    """Revoke a key by its id; it stops working at once."""
    settings = migrated(load_settings())
    try:
        revoked = with_services(settings, lambda s: s.keys.revoke(key_id))
    except HooklineError as exc:
        raise UserError(f"KEY_ID: {exc}") from None
    if not revoked:
        raise UserError(f"KEY_ID: no active key with id {key_id} (see `hookline keys list`)")
    click.echo(f"revoked {key_id}")
