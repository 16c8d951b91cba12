"""Dashboard sessions: opened with an API key, kept server-side, closed on sign-out."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from sqlalchemy import delete, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from hookline.domain.keys import Principal, Role, hash_api_key
from hookline.store.schema import api_keys, ui_sessions

SESSION_SECONDS = 12 * 3600


@dataclass(frozen=True)
class UiSession:
    principal: Principal
    csrf_token: str


async def open_session(engine: AsyncEngine, principal: Principal) -> tuple[str, str]:
    """A new session for the key's holder: (cookie token, CSRF token)."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = time.time()
    async with engine.begin() as conn:
        await conn.execute(delete(ui_sessions).where(ui_sessions.c.expires_at < now))
        await conn.execute(
            insert(ui_sessions).values(
                token_hash=hash_api_key(token),
                key_id=principal.key_id,
                workspace_id=principal.workspace_id,
                role=principal.role.value,
                csrf_token=csrf,
                created_at=now,
                expires_at=now + SESSION_SECONDS,
            )
        )
    return token, csrf


async def find_session(engine: AsyncEngine, token: str) -> UiSession | None:
    """The live session of a cookie token; none once expired or its key is revoked."""
    query = (
        select(
            ui_sessions.c.key_id,
            ui_sessions.c.workspace_id,
            ui_sessions.c.role,
            ui_sessions.c.csrf_token,
        )
        .outerjoin(api_keys, api_keys.c.id == ui_sessions.c.key_id)
        .where(
            ui_sessions.c.token_hash == hash_api_key(token),
            ui_sessions.c.expires_at > time.time(),
            # A key's session ends with the key; a portal link's has none to end with.
            or_(ui_sessions.c.key_id.is_(None), api_keys.c.revoked_at.is_(None)),
        )
    )
    async with engine.connect() as conn:
        row = (await conn.execute(query)).first()
    if row is None:
        return None
    return UiSession(Principal(row.key_id, row.workspace_id, Role(row.role)), row.csrf_token)


async def close_session(engine: AsyncEngine, token: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            delete(ui_sessions).where(ui_sessions.c.token_hash == hash_api_key(token))
        )
