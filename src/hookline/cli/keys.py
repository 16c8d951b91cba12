"""``hookline workspaces`` and ``hookline keys``: the operator's commands on the server
(whoever has a shell there acts as an admin)."""

from __future__ import annotations

import click

from hookline.cli.common import UserError, load_settings, migrated, with_services
from hookline.domain.keys import Role
from hookline.errors import HooklineError
from hookline.service.workspaces import SHELL_OPERATOR
from hookline.text import table, when


@click.group()
def workspaces() -> None:
    """Manage workspaces (one per customer)."""


@workspaces.command("create")
@click.argument("name")
def workspaces_create(name: str) -> None:
    """Create a workspace."""
    settings = migrated(load_settings())
    try:
        created = with_services(settings, lambda s: s.workspaces.create(SHELL_OPERATOR, name))
    except HooklineError as exc:
        raise UserError(f"NAME: {exc}") from None
    click.echo(f"created workspace {created.name}")


@workspaces.command("list")
def workspaces_list() -> None:
    """Every workspace with its counts of webhooks and keys."""
    settings = migrated(load_settings())
    found = with_services(settings, lambda s: s.workspaces.list(SHELL_OPERATOR))
    rows = [vars(w) | {"created_at": when(w.created_at)} for w in found]
    click.echo(table(rows, ("name", "created_at", "webhooks", "keys")))


@click.group()
def keys() -> None:
    """Manage API keys."""


@keys.command("create")
@click.option("--workspace", help="Workspace name (created if new); none for an "
              "installation-wide admin or publisher key.")  # fmt: skip
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role]),
    default=Role.INTEGRATOR.value,
    show_default=True,
    help="integrator: manage webhooks; publisher: publish events; admin: run the platform.",
)
@click.option("--label", help="What the key is for, like crm.")
def keys_create(workspace: str | None, role: str, label: str | None) -> None:
    """Create an API key. The key is printed once, as the last line; only its hash is kept."""
    settings = migrated(load_settings())

    async def create(services):  # type: ignore[no-untyped-def]
        if workspace is not None:
            await services.workspaces.ensure(SHELL_OPERATOR, workspace)
        return await services.workspaces.issue_key(SHELL_OPERATOR, workspace, Role(role), label)

    try:
        created = with_services(settings, create)
    except HooklineError as exc:
        flag = "--role" if "role" in str(exc) else "--workspace"
        raise UserError(f"{flag}: {exc}") from None
    scope = f"workspace {workspace!r}" if workspace else "the whole installation"
    click.echo(
        f"Created {created.info.role.value} key {created.info.key_id} for {scope}. "
        "Store it now: it is not shown again."
    )
    click.echo(created.key)


@keys.command("list")
@click.option("--workspace", help="Only this workspace's keys.")
def keys_list(workspace: str | None) -> None:
    """List API keys (ids, never the keys themselves)."""
    settings = migrated(load_settings())
    try:
        found = with_services(settings, lambda s: s.workspaces.keys(SHELL_OPERATOR, workspace))
    except HooklineError as exc:
        raise UserError(f"--workspace: {exc}") from None
    rows = [
        {
            "key_id": info.key_id,
            "workspace": info.workspace or "*",
            "role": info.role.value,
            "label": info.label,
            "created": when(info.created_at),
            "last_used": when(info.last_used_at),
            "revoked": when(info.revoked_at),
        }
        for info in found
    ]
    columns = ("key_id", "workspace", "role", "label", "created", "last_used", "revoked")
    click.echo(table(rows, columns))


@keys.command("revoke")
@click.argument("key_id")
def keys_revoke(key_id: str) -> None:
    """Revoke a key by its id; it stops working at once."""
    settings = migrated(load_settings())
    try:
        with_services(settings, lambda s: s.workspaces.revoke_key(SHELL_OPERATOR, key_id))
    except HooklineError as exc:
        raise UserError(f"KEY_ID: {exc} (see `hookline keys list`)") from None
    click.echo(f"revoked {key_id}")
