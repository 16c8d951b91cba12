"""Every API error is JSON ``{"code", "detail", "errors"?}``: ``code`` stable and
documented, ``detail`` for people, ``errors`` naming each field at fault. A client's
mistake is a 4xx, never a 500; this module is the one place errors become answers."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from hookline.domain.inputs import MalformedJson
from hookline.errors import (
    ERROR_CODES,
    FieldProblem,
    HooklineError,
    InvalidInput,
    MalformedRequest,
    Unavailable,
)

log = logging.getLogger("hookline.api")

ErrorCode = Literal[tuple(ERROR_CODES)]  # type: ignore[valid-type]


class FieldError(BaseModel):
    field: str
    message: str


class ErrorOut(BaseModel):
    code: ErrorCode = Field(description="Stable: branch on this, not on `detail`")  # type: ignore[valid-type]
    detail: str
    errors: list[FieldError] | None = Field(None, description="Each field at fault (422)")


def error(description: str) -> dict[str, Any]:
    return {"model": ErrorOut, "description": description}


# What any /api route may answer besides success; routes add their own (409).
API_ERRORS: dict[int | str, dict[str, Any]] = {
    400: error("The body is not valid JSON"),
    401: error("Missing, unknown or revoked X-API-KEY"),
    403: error("The key's role may not call this route"),
    404: error("No such resource in the key's workspace"),
    413: error("The body is over 1 MB"),
    422: error("A field is invalid; `errors` names each"),
    503: error("The database is unavailable; retry after Retry-After seconds"),
}
REQUEST_PARTS = {"body", "query", "path", "header", "cookie"}
HTTP_CODES = {
    400: "malformed_json",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
}


def error_body(code: str, detail: str, problems: Sequence[FieldProblem] = ()) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "detail": detail}
    if problems:
        body["errors"] = [{"field": p.field, "message": p.message} for p in problems]
    return body


def error_response(exc: HooklineError) -> JSONResponse:
    problems = exc.problems if isinstance(exc, InvalidInput) else ()
    headers = None
    if isinstance(exc, Unavailable):
        headers = {"Retry-After": str(exc.retry_after_seconds)}
    return JSONResponse(
        error_body(exc.code, exc.detail, problems), status_code=exc.status, headers=headers
    )


def field_name(loc: Sequence[Any]) -> str:
    """("body", "payload", "metadata", 0) -> "payload.metadata.0"."""
    parts = list(loc)
    if parts and parts[0] in REQUEST_PARTS and len(parts) > 1:
        parts = parts[1:]
    return ".".join(str(p) for p in parts)


def clean_message(message: str) -> str:
    # Pydantic prefixes a validator's own ValueError text; the text alone reads better.
    return message.removeprefix("Value error, ") or "is invalid"


def _from_validation_error(exc: RequestValidationError) -> HooklineError:
    raw = exc.errors()
    if any(e.get("type") == "json_invalid" for e in raw):
        return MalformedRequest("request body is not valid JSON")
    return InvalidInput(
        [FieldProblem(field_name(e.get("loc", ())), clean_message(e.get("msg", ""))) for e in raw]
    )


def to_hookline_error(request: Request, exc: Exception) -> HooklineError:
    """Any exception as the error the client is told about."""
    if isinstance(exc, HooklineError):
        return exc
    if isinstance(exc, RequestValidationError):
        return _from_validation_error(exc)
    if isinstance(exc, MalformedJson):
        return MalformedRequest(str(exc))
    if isinstance(exc, ClientDisconnect):
        # The body stopped short: the client left, or BodySizeLimit answered 413 for it.
        # Nobody receives this answer, and it is no fault of Hookline's to log.
        return MalformedRequest("the request's body did not arrive whole")
    if isinstance(exc, StarletteHTTPException):
        code = HTTP_CODES.get(exc.status_code, "internal_error")
        return HooklineError(str(exc.detail), code=code, status=exc.status_code)
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return HooklineError("internal error")


ErrorRenderer = Callable[[Request, HooklineError], Awaitable[Response] | Response]


def install_error_handlers(app: FastAPI, dashboard: tuple[str, ErrorRenderer]) -> None:
    """Errors under the dashboard's prefix go to its renderer; all others become JSON."""
    prefix, render_page = dashboard

    async def handle(request: Request, exc: Exception) -> Response:
        error = to_hookline_error(request, exc)
        if request.url.path.startswith(prefix):
            rendered = render_page(request, error)
            return await rendered if isinstance(rendered, Awaitable) else rendered
        return error_response(error)

    for kind in (
        HooklineError,
        RequestValidationError,
        MalformedJson,
        StarletteHTTPException,
        ClientDisconnect,
        Exception,
    ):
        app.add_exception_handler(kind, handle)
