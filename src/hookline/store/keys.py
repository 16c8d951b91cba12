"""Workspaces, API keys and portal links."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from hookline.domain.ids import new_id
from hookline.domain.keys import Principal, Role, hash_api_key, new_api_key
from hookline.store.database import sqlite_data_version
from hookline.store.notify import KEYS_CHANNEL, Listener, notify_keys_changed
from hookline.store.schema import api_keys, portal_links, webhooks, workspaces


@dataclass(frozen=True)
class Workspace:
    workspace_id: str
    name: str
    created_at: float


@dataclass(frozen=True)
class WorkspaceSummary:
    name: str
    created_at: float
    webhooks: int
    keys: int  # not revoked


# Cached principals at most; past this the cache starts over.
MAX_CACHED_KEYS = 10_000


@dataclass(frozen=True)
class ApiKeyInfo:
    key_id: str
    workspace: str | None  # None: installation-wide
    role: Role
    label: str | None
    created_at: float
    last_used_at: float | None
    revoked_at: float | None


@dataclass(frozen=True)
class CreatedKey:
    info: ApiKeyInfo
    key: str  # the plaintext, shown once and never stored


async def create_workspace(engine: AsyncEngine, name: str) -> Workspace | None:
    """A new workspace; None when the name is taken."""
    workspace = Workspace(new_id("ws"), name, time.time())
    try:
        async with engine.begin() as conn:
            await conn.execute(
                insert(workspaces).values(
                    id=workspace.workspace_id, name=name, created_at=workspace.created_at
                )
            )
    except IntegrityError:
        return None
    return workspace


async def find_workspace(engine: AsyncEngine, name: str) -> Workspace | None:
    async with engine.connect() as conn:
        row = (await conn.execute(select(workspaces).where(workspaces.c.name == name))).first()
    return None if row is None else Workspace(row.id, row.name, row.created_at)


async def list_workspaces(engine: AsyncEngine) -> list[WorkspaceSummary]:
    """Every workspace with how many webhooks and live keys it has, by name."""
    webhook_count = (
        select(func.count()).where(webhooks.c.workspace_id == workspaces.c.id).scalar_subquery()
    )
    key_count = (
        select(func.count())
        .where(api_keys.c.workspace_id == workspaces.c.id, api_keys.c.revoked_at.is_(None))
        .scalar_subquery()
    )
    query = select(workspaces.c.name, workspaces.c.created_at, webhook_count, key_count).order_by(
        workspaces.c.name
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [WorkspaceSummary(*row) for row in rows]


async def create_key(
    engine: AsyncEngine, workspace: Workspace | None, role: Role, label: str | None = None
) -> CreatedKey:
    """A key of ``workspace``, or installation-wide when None."""
    now = time.time()
    key, key_id = new_api_key(), new_id("key")
    async with engine.begin() as conn:
        await conn.execute(
            insert(api_keys).values(
                id=key_id,
                workspace_id=workspace.workspace_id if workspace else None,
                role=role.value,
                key_hash=hash_api_key(key),
                label=label,
                created_at=now,
            )
        )
    name = workspace.name if workspace else None
    return CreatedKey(ApiKeyInfo(key_id, name, role, label, now, None, None), key)


KEY_INFO = (
    select(
        api_keys.c.id,
        workspaces.c.name,
        api_keys.c.role,
        api_keys.c.label,
        api_keys.c.created_at,
        api_keys.c.last_used_at,
        api_keys.c.revoked_at,
    )
    .outerjoin(workspaces, workspaces.c.id == api_keys.c.workspace_id)
    .order_by(workspaces.c.name, api_keys.c.created_at)
)


async def list_keys(engine: AsyncEngine, workspace: Workspace | None = None) -> list[ApiKeyInfo]:
    """The keys of ``workspace``, or every key when None (never the keys themselves)."""
    query = KEY_INFO
    if workspace is not None:
        query = query.where(api_keys.c.workspace_id == workspace.workspace_id)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [
        ApiKeyInfo(r.id, r.name, Role(r.role), r.label, r.created_at, r.last_used_at, r.revoked_at)
        for r in rows
    ]


async def revoke_key(engine: AsyncEngine, key_id: str) -> float | None:
    """Revoke a key; when, or None when no unrevoked key has that id."""
    now = time.time()
    async with engine.begin() as conn:
        result = await conn.execute(
            update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        if result.rowcount:
            await notify_keys_changed(conn)
    return now if result.rowcount == 1 else None


# Every request runs this: built once, only bound per call.
AUTHENTICATE = select(
    api_keys.c.id, api_keys.c.workspace_id, api_keys.c.role, api_keys.c.last_used_at
).where(api_keys.c.key_hash == bindparam("key_hash"), api_keys.c.revoked_at.is_(None))
# last_used_at is kept to the minute: a write per request would cost every publish.
LAST_USED_RESOLUTION_SECONDS = 60.0
TOUCH = (
    update(api_keys)
    .where(api_keys.c.id == bindparam("key_id"))
    .values(last_used_at=bindparam("now"))
)


async def authenticate(engine: AsyncEngine, key: str) -> Principal | None:
    """The principal a key stands for, or None for an unknown or revoked key."""
    return await _look_up(engine, hash_api_key(key))


async def _look_up(engine: AsyncEngine, key_hash: str) -> Principal | None:
    async with engine.connect() as conn:
        row = (await conn.execute(AUTHENTICATE, {"key_hash": key_hash})).first()
    if row is None:
        return None
    now = time.time()
    if _use_to_note(row.last_used_at, now):
        await _note_use(engine, row.id, now)
    return Principal(row.id, row.workspace_id, Role(row.role))


def _use_to_note(last_noted: float | None, now: float) -> bool:
    return last_noted is None or now - last_noted > LAST_USED_RESOLUTION_SECONDS


async def _note_use(engine: AsyncEngine, key_id: str, now: float) -> None:
    async with engine.begin() as conn:
        await conn.execute(TOUCH, {"key_id": key_id, "now": now})


async def create_portal_link(
    engine: AsyncEngine, workspace: Workspace, token: str, ttl_seconds: float
) -> float:
    """Store a portal link's token (hashed); when it expires."""
    now = time.time()
    async with engine.begin() as conn:
        await conn.execute(
            insert(portal_links).values(
                token_hash=hash_api_key(token),
                workspace_id=workspace.workspace_id,
                created_at=now,
                expires_at=now + ttl_seconds,
            )
        )
    return now + ttl_seconds


async def redeem_portal_link(engine: AsyncEngine, token: str) -> str | None:
    """Use a portal link once: its workspace's id, or None when it is unknown, used or
    expired. One UPDATE, so two browsers racing for one link cannot both win."""
    now = time.time()
    async with engine.begin() as conn:
        row = (
            await conn.execute(
                update(portal_links)
                .where(
                    portal_links.c.token_hash == hash_api_key(token),
                    portal_links.c.used_at.is_(None),
                    portal_links.c.expires_at > now,
                )
                .values(used_at=now)
                .returning(portal_links.c.workspace_id)
            )
        ).first()
    return None if row is None else row.workspace_id


class KeyLookup:
    """``authenticate`` with the principals of known keys cached, and the cache emptied
    whenever a key may have been revoked, so a revocation holds from the next request:

    - PostgreSQL: ``revoke_key`` sends NOTIFY in its transaction; every process listening
      empties its cache when it arrives. The cache is only used while the LISTEN connection
      is up (a lost connection could have missed a revocation).
    - SQLite: this process's own revocations empty it (``forget``), and so does a change
      of ``PRAGMA data_version``, which moves when another connection commits (the
      ``hookline keys revoke`` command in another process), or of the engine's connection.

    Unknown keys are not cached, so a new key works at once. A lookup that overlapped a
    revocation does not fill the cache (the generation moved meanwhile). Without a LISTEN
    connection (behind a pooler with no HOOKLINE_DIRECT_DATABASE_URL) nothing is cached.
    A key's last use is still noted, to the minute.
    """

    def __init__(self, engine: AsyncEngine, listen_url: str | None, connect_timeout: float) -> None:
        self._engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        # key hash -> (principal, when its use was last noted)
        self._cache: dict[str, tuple[Principal, float]] = {}
        self._generation = 0
        self._data_version: tuple[int, int] | None = None
        self._listening = False
        self._listener = None
        if not self._sqlite and listen_url is not None:
            self._listener = Listener(
                listen_url, self._listening_now, connect_timeout, KEYS_CHANNEL, self._deaf
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
            principal, noted = cached
            assert principal.key_id is not None
            now = time.time()
            if _use_to_note(noted, now):
                # Marked before the write: requests arriving meanwhile skip it instead of
                # queueing on the key row's lock behind it (a burst at each minute's turn).
                self._cache[key_hash] = (principal, now)
                await _note_use(self._engine, principal.key_id, now)
            return principal
        generation = self._generation
        principal = await _look_up(self._engine, key_hash)
        if principal is not None and usable and generation == self._generation:
            if len(self._cache) >= MAX_CACHED_KEYS:
                self._cache.clear()
            self._cache[key_hash] = (principal, time.time())
        return principal

    async def _check_data_version(self) -> None:
        version = sqlite_data_version(self._engine)
        if version is None:  # no connection open: open one
            async with self._engine.connect():
                version = sqlite_data_version(self._engine)
        if version is None or version != self._data_version:
            self._data_version = version
            self.forget()
