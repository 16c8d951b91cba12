"""Who an API key stands for."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from hookline.domain.keys import Principal
from hookline.errors import Unauthorized
from hookline.service.store_calls import StoreService
from hookline.store.keys import KeyLookup


class KeyService(StoreService):
    def __init__(self, engine: AsyncEngine, listen_url: str | None, timeout: float) -> None:
        self._engine = engine
        self._lookup = KeyLookup(engine, listen_url, timeout)

    def start(self) -> None:
        self._lookup.start()

    async def stop(self) -> None:
        await self._lookup.stop()

    def forget(self) -> None:
        """A key was revoked by this process: known keys are looked up afresh."""
        self._lookup.forget()

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
