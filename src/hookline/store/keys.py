"""Workspaces and API keys."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from hookline.domain.ids import new_id
from hookline.domain.keys import Principal, Role, hash_api_key, new_api_key
from hookline.store.schema import api_keys, workspaces


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
    return result.rowcount == 1


# Every request runs this: built once, only bound per call.
AUTHENTICATE = select(api_keys.c.id, api_keys.c.workspace_id, api_keys.c.role).where(
    api_keys.c.key_hash == bindparam("key_hash"), api_keys.c.revoked_at.is_(None)
)


async def authenticate(engine: AsyncEngine, key: str) -> Principal | None:
    """The principal a key stands for, or None for an unknown or revoked key."""
    async with engine.connect() as conn:
        row = (await conn.execute(AUTHENTICATE, {"key_hash": hash_api_key(key)})).first()
    return None if row is None else Principal(row.id, row.workspace_id, Role(row.role))
