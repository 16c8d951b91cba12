"""Liveness: 200 once the server accepts requests and its database answers."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from hookline.api.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get(
    "/healthz",
    summary="Liveness",
    responses={
        200: {"description": "Serving"},
        503: {"description": "The database is unreachable"},
    },
)
async def healthz(services: ServicesDep) -> JSONResponse:
    if not await services.operations.database_answers():
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok"})
