"""What operators and their monitoring read: liveness and the installation's backlog."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from hookline.store.database import ping
from hookline.store.queue import backlog


@dataclass(frozen=True)
class Backlog:
    pending: int
    due: int
    oldest_due_age_seconds: float


class OperationsService:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def database_answers(self) -> bool:
        try:
            await ping(self._engine)
        except Exception:
            return False
        return True

    async def backlog(self) -> Backlog:
        """Installation-wide: pending deliveries, how many are due, the oldest's wait."""
        now = time.time()
        pending, due, oldest_due = await backlog(self._engine, now)
        return Backlog(pending, due, now - oldest_due if oldest_due is not None else 0.0)
