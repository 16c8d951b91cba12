"""Workspaces and their API keys: who a key stands for, issuing and revoking keys."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from hookline.domain.inputs import check_id, check_text
from hookline.domain.keys import Principal, Role
from hookline.errors import Unauthorized
from hookline.store import keys as key_store
from hookline.store.keys import ApiKeyInfo, CreatedKey, KeyLookup


class KeyService:
    def __init__(self, engine: AsyncEngine, database_url: str) -> None:
        self._engine = engine
        self._lookup = KeyLookup(engine, database_url)

    def start(self) -> None:
        self._lookup.start()

    async def stop(self) -> None:
        await self._lookup.stop()

    async def authenticate(self, key: str | None) -> Principal:
        """The principal a key stands for; Unauthorized when it is missing, unknown or
        revoked. Known keys are cached, and the cache is emptied by any revocation
        (``KeyLookup``), so a revocation holds from the next request."""
        if not key:
            raise Unauthorized("missing X-API-KEY header", code="missing_api_key")
        principal = None
        if key.isascii() and key.isprintable():
            principal = await self._lookup.authenticate(key)
        if principal is None:
            raise Unauthorized("invalid or revoked API key")
        return principal

    async def create(self, workspace: str, role: Role) -> CreatedKey:
        """A new key (and the workspace, if new); the plaintext is in the result, once."""
        check_id("workspace", workspace)
        return await key_store.create_key(self._engine, workspace, role)

    async def list(self) -> list[ApiKeyInfo]:
        return await key_store.list_keys(self._engine)

    async def revoke(self, key_id: str) -> bool:
        """False when no unrevoked key has that id."""
        check_text("key_id", key_id)
        revoked = await key_store.revoke_key(self._engine, key_id)
        self._lookup.forget()
        return revoked
