"""Running Hookline for many customers: workspaces, their keys, portal links, and the
operator's view across them. Admin principals only (the CLI acts as one: whoever has a
shell on the server is the operator)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from hookline.domain.inputs import MAX_ID_LENGTH, check_text, check_workspace_name
from hookline.domain.keys import INSTALLATION_WIDE_ROLES, Permission, Principal, Role
from hookline.errors import Conflict, InvalidInput, NotFound
from hookline.service.keys import KeyService
from hookline.service.store_calls import StoreService
from hookline.store import keys as key_store
from hookline.store import webhooks as webhook_store
from hookline.store.keys import ApiKeyInfo, CreatedKey, Workspace, WorkspaceSummary
from hookline.store.webhooks import TroubledWebhook

__all__ = ["ApiKeyInfo", "CreatedKey", "PortalLink", "WorkspaceService", "WorkspaceSummary"]

# Whoever runs `hookline …` on the server: the installation's operator.
SHELL_OPERATOR = Principal(key_id=None, workspace_id=None, role=Role.ADMIN)
PORTAL_TTL_SECONDS = 15 * 60.0
MAX_PORTAL_TTL_SECONDS = 24 * 3600.0
PORTAL_PATH = "/ui/portal/"


@dataclass(frozen=True)
class PortalLink:
    url: str
    expires_at: float


class WorkspaceService(StoreService):
    def __init__(self, engine: AsyncEngine, keys: KeyService) -> None:
        self._engine = engine
        self._keys = keys

    async def create(self, principal: Principal, name: str) -> Workspace:
        principal.require(Permission.MANAGE_WORKSPACES)
        created = await key_store.create_workspace(self._engine, check_workspace_name(name))
        if created is None:
            raise Conflict(f"a workspace named {name!r} exists", code="workspace_exists")
        return created

    async def named(self, principal: Principal, name: str) -> Workspace:
        principal.require(Permission.MANAGE_WORKSPACES)
        check_text("name", name, MAX_ID_LENGTH)
        found = await key_store.find_workspace(self._engine, name)
        if found is None:
            raise NotFound(f"no workspace named {name!r}", code="workspace_not_found")
        return found

    async def list(self, principal: Principal) -> list[WorkspaceSummary]:
        principal.require(Permission.MANAGE_WORKSPACES)
        return await key_store.list_workspaces(self._engine)

    async def issue_key(
        self, principal: Principal, workspace: str | None, role: Role, label: str | None = None
    ) -> CreatedKey:
        """A new key of the workspace, or installation-wide (admin and publisher only) when
        ``workspace`` is None. The plaintext is in the result, once; only its hash is kept."""
        principal.require(Permission.MANAGE_WORKSPACES)
        if label is not None:
            check_text("label", label, MAX_ID_LENGTH)
        if workspace is None:
            if role not in INSTALLATION_WIDE_ROLES:
                raise InvalidInput.field("workspace", f"an {role.value} key needs a workspace")
            return await key_store.create_key(self._engine, None, role, label)
        if role is Role.ADMIN:
            raise InvalidInput.field("role", "admin keys are installation-wide, not a workspace's")
        found = await self.named(principal, workspace)
        return await key_store.create_key(self._engine, found, role, label)

    async def ensure(self, principal: Principal, name: str) -> Workspace:
        """The workspace named so, created if new (the CLI's `keys create --workspace`)."""
        principal.require(Permission.MANAGE_WORKSPACES)
        found = await key_store.find_workspace(self._engine, check_workspace_name(name))
        return found or await self.create(principal, name)

    async def keys(self, principal: Principal, workspace: str | None = None) -> list[ApiKeyInfo]:
        """The workspace's keys, or every key when None; never the keys themselves."""
        principal.require(Permission.MANAGE_WORKSPACES)
        found = await self.named(principal, workspace) if workspace is not None else None
        return await key_store.list_keys(self._engine, found)

    async def revoke_key(self, principal: Principal, key_id: str) -> float:
        """Revoke a key: refused from the next request on. When it was revoked."""
        principal.require(Permission.MANAGE_WORKSPACES)
        check_text("key_id", key_id, MAX_ID_LENGTH)
        revoked_at = await key_store.revoke_key(self._engine, key_id)
        self._keys.forget()  # other processes hear of it through the database
        if revoked_at is None:
            raise NotFound(f"no active key with id {key_id}", code="key_not_found")
        return revoked_at

    async def portal_link(
        self, principal: Principal, workspace: str, base_url: str, ttl: float | None = None
    ) -> PortalLink:
        """A one-time link that signs a browser into the workspace's dashboard as an
        integrator. Its token is random, stored only as a hash, and expires."""
        ttl = PORTAL_TTL_SECONDS if ttl is None else ttl
        if not 60 <= ttl <= MAX_PORTAL_TTL_SECONDS:
            raise InvalidInput.field(
                "ttl", f"must be from 60 to {MAX_PORTAL_TTL_SECONDS:g} seconds"
            )
        found = await self.named(principal, workspace)
        token = secrets.token_urlsafe(32)
        expires_at = await key_store.create_portal_link(self._engine, found, token, ttl)
        return PortalLink(base_url.rstrip("/") + PORTAL_PATH + token, expires_at)

    async def troubled_webhooks(self, principal: Principal) -> list[TroubledWebhook]:
        """Across every workspace, the webhooks failing now or disabled by Hookline."""
        principal.require(Permission.MANAGE_WORKSPACES)
        return await webhook_store.troubled_webhooks(self._engine)
