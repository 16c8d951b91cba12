"""What operators and their monitoring read: readiness and the installation's backlog."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from hookline.errors import Unavailable
from hookline.service.store_calls import StoreService
from hookline.store.database import readiness_problem
from hookline.store.queue import backlog


@dataclass(frozen=True)
class Backlog:
    pending: int
    due: int
    oldest_due_age_seconds: float


class OperationsService(StoreService):
    def __init__(self, engine: AsyncEngine, readiness_timeout: float) -> None:
        self._engine = engine
        self._readiness_timeout = readiness_timeout

    async def check_ready(self) -> None:
        """Returns when the database answers a trivial query within the readiness timeout
        and takes writes (on SQLite: a real write, so a full disk shows); else
        Unavailable, saying why not."""
        problem = await readiness_problem(self._engine, self._readiness_timeout)
        if problem is not None:
            raise Unavailable(problem)

    async def backlog(self) -> Backlog:
        """Installation-wide: pending deliveries, how many are due, the oldest's wait."""
        now = time.time()
        pending, due, oldest_due = await backlog(self._engine, now)
        return Backlog(pending, due, now - oldest_due if oldest_due is not None else 0.0)
