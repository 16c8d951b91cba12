"""One error hierarchy. Services raise these; the API and the dashboard each map them once.

Every error has a stable ``code`` (documented in OpenAPI, safe to branch on) and a
``detail`` for people; invalid input also lists each field at fault.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class FieldProblem:
    field: str
    message: str


class HooklineError(Exception):
    status: int = 500
    default_code: ClassVar[str] = "internal_error"

    def __init__(self, detail: str, code: str | None = None, status: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.default_code
        if status is not None:
            self.status = status


class MalformedRequest(HooklineError):
    status = 400
    default_code = "malformed_json"


class Unauthorized(HooklineError):
    status = 401
    default_code = "invalid_api_key"


class Forbidden(HooklineError):
    status = 403
    default_code = "forbidden"


class NotFound(HooklineError):
    """Also what another workspace's resource is: its existence is not disclosed."""

    status = 404
    default_code = "not_found"


class Conflict(HooklineError):
    status = 409
    default_code = "conflict"


class InvalidInput(HooklineError):
    status = 422
    default_code = "invalid_input"

    def __init__(self, problems: list[FieldProblem], code: str | None = None) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems), code)
        self.problems = problems

    @classmethod
    def field(cls, field: str, message: str) -> InvalidInput:
        return cls([FieldProblem(field, message)])


class Unavailable(HooklineError):
    """The database (or another dependency) cannot answer now; worth retrying."""

    status = 503
    default_code = "database_unavailable"
    retry_after_seconds: ClassVar[int] = 1


# Every code an API answer can carry, with what it means: the OpenAPI document and the
# README list these.
ERROR_CODES: dict[str, str] = {
    "malformed_json": "The body is not valid JSON",
    "invalid_input": "A field is invalid; `errors` names each",
    "missing_api_key": "No X-API-KEY header",
    "invalid_api_key": "The X-API-KEY is unknown or revoked",
    "forbidden": "The key's role may not call this route",
    "not_found": "No such route",
    "webhook_not_found": "No such webhook in the key's workspace",
    "event_not_found": "No such event in the key's workspace",
    "delivery_not_found": "No such delivery in the key's workspace",
    "workspace_not_found": "No workspace of that name",
    "key_not_found": "No active API key with that id",
    "method_not_allowed": "The route does not take this HTTP method",
    "webhook_inactive": "The webhook is deactivated; activate it first",
    "idempotency_conflict": "The Idempotency-Key was used before with another body",
    "workspace_exists": "A workspace of that name exists",
    "body_too_large": "The body is over 1 MB",
    "database_unavailable": "The database is unavailable; retry after Retry-After seconds",
    "internal_error": "A fault in Hookline itself",
    "sign_in_required": "The dashboard session is missing or expired (dashboard only)",
    "invalid_portal_link": "The portal link is used, expired or unknown (dashboard only)",
}
