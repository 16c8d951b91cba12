"""Every error is JSON with a ``detail`` naming the field or the reason; a client's
mistake is a 4xx, never a 500."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("hookline.api")


class ErrorOut(BaseModel):
    detail: str


class FieldError(BaseModel):
    field: str
    message: str


class ValidationErrorOut(BaseModel):
    detail: str
    errors: list[FieldError]


def error(description: str, model: type[BaseModel] = ErrorOut) -> dict:
    return {"model": model, "description": description}


# What any /api route may answer besides success; routes add their own (403, 409).
API_ERRORS: dict[int | str, dict] = {
    400: error("The body is not valid JSON"),
    401: error("Missing, unknown or revoked X-API-KEY"),
    404: error("No such resource in the key's workspace"),
    413: error("The body is over 1 MB"),
    422: error("A field is invalid; `errors` names each", ValidationErrorOut),
    503: error("The database is unavailable; retry shortly"),
}
REQUEST_PARTS = {"body", "query", "path", "header", "cookie"}


def field_name(loc: Sequence[Any]) -> str:
    """("body", "payload", "metadata", 0) -> "payload.metadata.0"."""
    parts = list(loc)
    if parts and parts[0] in REQUEST_PARTS and len(parts) > 1:
        parts = parts[1:]
    return ".".join(str(p) for p in parts)


def clean_message(message: str) -> str:
    # Pydantic prefixes a validator's own ValueError text; the text alone reads better.
    return message.removeprefix("Value error, ") or "is invalid"


def validation_response(errors: list[dict[str, str]], status_code: int = 422) -> JSONResponse:
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return JSONResponse({"detail": detail, "errors": errors}, status_code=status_code)


async def _on_validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    raw = exc.errors()
    if any(e.get("type") == "json_invalid" for e in raw):
        return JSONResponse({"detail": "request body is not valid JSON"}, status_code=400)
    errors = [
        {"field": field_name(e.get("loc", ())), "message": clean_message(e.get("msg", ""))}
        for e in raw
    ]
    return validation_response(errors)


async def _on_http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    return JSONResponse(
        {"detail": exc.detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None)
    )


async def _on_database_error(request: Request, exc: DBAPIError) -> JSONResponse:
    # Not the client's fault and usually passing (a restart, a failover): say so, and when
    # to come back, rather than a bare 500.
    log.error("database error on %s %s: %s", request.method, request.url.path, type(exc).__name__)
    return JSONResponse(
        {"detail": "the database is unavailable; try again shortly"},
        status_code=503,
        headers={"Retry-After": "1"},
    )


async def _on_unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": "internal error"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _on_validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _on_http_error)  # type: ignore[arg-type]
    app.add_exception_handler(DBAPIError, _on_database_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _on_unexpected_error)
