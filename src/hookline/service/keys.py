"""Who an API key stands for."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from hookline.domain.keys import Principal
from hookline.errors import Unauthorized
from hookline.service.store_calls import StoreService
from hookline.store import keys as key_store


class KeyService(StoreService):
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def authenticate(self, key: str | None) -> Principal:
        """The principal a key stands for; Unauthorized when it is missing, unknown or
        revoked. Looked up on every call, so a revocation holds from the next request."""
        if not key:
            raise Unauthorized("missing X-API-KEY header", code="missing_api_key")
        principal = None
        if key.isascii() and key.isprintable():
            principal = await key_store.authenticate(self._engine, key)
        if principal is None:
            raise Unauthorized("invalid or revoked API key")
        return principal
