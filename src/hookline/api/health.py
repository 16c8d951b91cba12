"""Liveness and readiness, for load balancers and orchestrators.

``/healthz`` (liveness): 200 whenever this process serves requests, whatever the database
does; restarting Hookline does not mend a database, and it recovers by itself.
``/readyz`` (readiness): 200 when the database answers a trivial query within
HOOKLINE_READINESS_TIMEOUT and takes writes; else 503 saying why, with Retry-After.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from hookline.api.deps import ServicesDep
from hookline.api.errors import error

router = APIRouter(tags=["health"])


class Live(BaseModel):
    status: Literal["ok"] = "ok"


class Ready(BaseModel):
    status: Literal["ready"] = "ready"


@router.get("/healthz", summary="Liveness", response_model=Live)
async def healthz() -> Live:
    """This process serves requests (the database is not asked: see /readyz)."""
    return Live()


@router.get(
    "/readyz",
    summary="Readiness",
    response_model=Ready,
    responses={503: error("Not ready: `detail` says why (unreachable, read-only, disk full…)")},
)
async def readyz(services: ServicesDep) -> Ready:
    """The database answers a trivial query in time and takes writes (on SQLite, a real
    write, so a full disk shows)."""
    await services.operations.check_ready()
    return Ready()
