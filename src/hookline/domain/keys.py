"""API keys: roles and what each may do, the key format, and how keys are hashed."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum

from hookline.errors import Forbidden

KEY_PREFIX = "hl_"


class Role(StrEnum):
    INTEGRATOR = "integrator"  # a customer's engineer: webhooks, secrets, deliveries
    PUBLISHER = "publisher"  # the platform's backend: publishes events
    ADMIN = "admin"  # the operator: workspaces, keys, portal links, publishing anywhere


# Roles whose keys may belong to no workspace (and then act installation-wide).
INSTALLATION_WIDE_ROLES = frozenset({Role.ADMIN, Role.PUBLISHER})


class Permission(StrEnum):
    MANAGE_WEBHOOKS = "manage webhooks, read their secrets and deliveries"
    PUBLISH = "publish events"
    READ_EVENTS = "read events"
    USE_DASHBOARD = "use the dashboard"
    MANAGE_WORKSPACES = "manage workspaces, keys and portal links"


# Least privilege: what is not listed for a role is refused to it.
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.INTEGRATOR: frozenset(
        {Permission.MANAGE_WEBHOOKS, Permission.READ_EVENTS, Permission.USE_DASHBOARD}
    ),
    Role.PUBLISHER: frozenset({Permission.PUBLISH, Permission.READ_EVENTS}),
    Role.ADMIN: frozenset(
        {Permission.MANAGE_WORKSPACES, Permission.PUBLISH, Permission.USE_DASHBOARD}
    ),
}


def roles_with(permission: Permission) -> list[Role]:
    return [role for role, granted in ROLE_PERMISSIONS.items() if permission in granted]


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key (None for a portal link's session), its workspace (None
    for an installation-wide key) and its role."""

    key_id: str | None
    workspace_id: str | None
    role: Role

    @property
    def installation_wide(self) -> bool:
        return self.workspace_id is None

    @property
    def workspace(self) -> str:
        """The workspace of a workspace-bound principal (integrators always are)."""
        if self.workspace_id is None:
            raise Forbidden("this needs a key of a workspace, not an installation-wide one")
        return self.workspace_id

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]

    def require(self, permission: Permission) -> None:
        if not self.can(permission):
            allowed = " or ".join(roles_with(permission))
            raise Forbidden(
                f"a {self.role.value} key may not {permission.value}; this needs a {allowed} key"
            )


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    # Keys carry 256 random bits, so a fast hash is as safe as a slow one here and keeps
    # every request's lookup cheap.
    return hashlib.sha256(key.encode()).hexdigest()
