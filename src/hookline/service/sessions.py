"""Dashboard sessions: opened with an API key whose role may use the dashboard."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from hookline.domain.keys import Permission, Principal, Role
from hookline.errors import Unauthorized
from hookline.service.keys import KeyService
from hookline.service.store_calls import StoreService
from hookline.store import keys as key_store
from hookline.store import ui_sessions
from hookline.store.ui_sessions import SESSION_SECONDS, UiSession

__all__ = ["SESSION_SECONDS", "SessionService", "UiSession"]


class SessionService(StoreService):
    def __init__(self, engine: AsyncEngine, keys: KeyService) -> None:
        self._engine = engine
        self._keys = keys

    async def open(self, api_key: str) -> str:
        """A new session's cookie token; Unauthorized or Forbidden for a key that may not
        sign in."""
        principal = await self._keys.authenticate(api_key)
        principal.require(Permission.USE_DASHBOARD)
        token, _csrf = await ui_sessions.open_session(self._engine, principal)
        return token

    async def open_portal(self, link_token: str) -> str:
        """A session opened by a portal link (once): an integrator of its workspace.
        Unauthorized for a link unknown, used or expired."""
        workspace_id = None
        if link_token.isascii() and link_token.isprintable():
            workspace_id = await key_store.redeem_portal_link(self._engine, link_token)
        if workspace_id is None:
            raise Unauthorized("this link is used, expired or unknown", code="invalid_portal_link")
        principal = Principal(key_id=None, workspace_id=workspace_id, role=Role.INTEGRATOR)
        token, _csrf = await ui_sessions.open_session(self._engine, principal)
        return token

    async def find(self, token: str | None) -> UiSession:
        """The live session of a cookie token; Unauthorized once expired, signed out, or
        its key revoked."""
        session = None
        if token and token.isascii():
            session = await ui_sessions.find_session(self._engine, token)
        if session is None:
            raise Unauthorized("sign in first", code="sign_in_required")
        return session

    async def close(self, token: str) -> None:
        await ui_sessions.close_session(self._engine, token)
