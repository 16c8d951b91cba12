"""Workspaces and API keys."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from hookline.domain.ids import new_id
from hookline.domain.keys import Principal, Role, hash_api_key, new_api_key
from hookline.store.notify import KEYS_CHANNEL, Listener, notify_keys_changed
from hookline.store.schema import api_keys, workspaces

# Cached principals at most; past this the cache starts over.
MAX_CACHED_KEYS = 10_000


@dataclass(frozen=True)
class ApiKeyInfo:
    key_id: str
    workspace: str
    role: Role
    created_at: float
    revoked_at: float | None


@dataclass(frozen=True)
class CreatedKey:
    info: ApiKeyInfo
    key: str  # the plaintext, shown once and never stored


async def create_key(engine: AsyncEngine, workspace_name: str, role: Role) -> CreatedKey:
    """Create an API key, and the workspace if it does not exist yet."""
    now = time.time()
    key = new_api_key()
    key_id = new_id("key")
    async with engine.begin() as conn:
        workspace_id = await conn.scalar(
            select(workspaces.c.id).where(workspaces.c.name == workspace_name)
        )
        if workspace_id is None:
            workspace_id = new_id("ws")
            await conn.execute(
                insert(workspaces).values(id=workspace_id, name=workspace_name, created_at=now)
            )
        await conn.execute(
            insert(api_keys).values(
                id=key_id,
                workspace_id=workspace_id,
                role=role.value,
                key_hash=hash_api_key(key),
                created_at=now,
            )
        )
    return CreatedKey(ApiKeyInfo(key_id, workspace_name, role, now, None), key)


async def list_keys(engine: AsyncEngine) -> list[ApiKeyInfo]:
    query = (
        select(
            api_keys.c.id,
            workspaces.c.name,
            api_keys.c.role,
            api_keys.c.created_at,
            api_keys.c.revoked_at,
        )
        .join(workspaces, workspaces.c.id == api_keys.c.workspace_id)
        .order_by(workspaces.c.name, api_keys.c.created_at)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [ApiKeyInfo(r.id, r.name, Role(r.role), r.created_at, r.revoked_at) for r in rows]


async def revoke_key(engine: AsyncEngine, key_id: str) -> bool:
    """Revoke a key; False when no unrevoked key has that id."""
    async with engine.begin() as conn:
        result = await conn.execute(
            update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=time.time())
        )
        if result.rowcount:
            await notify_keys_changed(conn)
    return result.rowcount == 1


# Every request runs this: built once, only bound per call.
AUTHENTICATE = select(api_keys.c.id, api_keys.c.workspace_id, api_keys.c.role).where(
    api_keys.c.key_hash == bindparam("key_hash"), api_keys.c.revoked_at.is_(None)
)


async def authenticate(engine: AsyncEngine, key: str) -> Principal | None:
    """The principal a key stands for, or None for an unknown or revoked key."""
    return await _look_up(engine, hash_api_key(key))


async def _look_up(engine: AsyncEngine, key_hash: str) -> Principal | None:
    async with engine.connect() as conn:
        row = (await conn.execute(AUTHENTICATE, {"key_hash": key_hash})).first()
    return None if row is None else Principal(row.id, row.workspace_id, Role(row.role))


class KeyLookup:
    """``authenticate`` with the principals of known keys cached, and the cache emptied
    whenever a key may have been revoked, so a revocation holds from the next request:

    - PostgreSQL: ``revoke_key`` sends NOTIFY in its transaction; every process listening
      empties its cache when it arrives. The cache is only used while the LISTEN connection
      is up (a lost connection could have missed a revocation).
    - SQLite: this process's own revocations empty it (``forget``), and so does a change
      of ``PRAGMA data_version``, which moves when another connection commits (the
      ``hookline keys revoke`` command in another process).

    Unknown keys are not cached, so a new key works at once. A lookup that overlapped a
    revocation does not fill the cache (the generation moved meanwhile).
    """

    def __init__(self, engine: AsyncEngine, database_url: str) -> None:
        self._engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        self._cache: dict[str, Principal] = {}
        self._generation = 0
        self._data_version: int | None = None
        self._listening = False
        self._listener = (
            None
            if self._sqlite
            else Listener(database_url, self._listening_now, KEYS_CHANNEL, self._deaf)
        )

    def start(self) -> None:
        if self._listener is not None:
            self._listener.start()

    async def stop(self) -> None:
        if self._listener is not None:
            await self._listener.stop()

    def forget(self) -> None:
        self._cache.clear()
        self._generation += 1

    def _listening_now(self) -> None:
        self.forget()
        self._listening = True

    def _deaf(self) -> None:
        self._listening = False
        self.forget()

    async def authenticate(self, key: str) -> Principal | None:
        key_hash = hash_api_key(key)
        if self._sqlite:
            await self._check_data_version()
        usable = self._sqlite or self._listening
        if usable and (cached := self._cache.get(key_hash)) is not None:
            return cached
        generation = self._generation
        principal = await _look_up(self._engine, key_hash)
        if principal is not None and usable and generation == self._generation:
            if len(self._cache) >= MAX_CACHED_KEYS:
                self._cache.clear()
            self._cache[key_hash] = principal
        return principal

    async def _check_data_version(self) -> None:
        async with self._engine.connect() as conn:
            version = await conn.scalar(DATA_VERSION)
        if version != self._data_version:
            self._data_version = version
            self.forget()


DATA_VERSION = text("PRAGMA data_version")
