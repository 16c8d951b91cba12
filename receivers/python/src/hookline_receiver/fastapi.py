"""A FastAPI dependency that verifies each delivery (install with the ``fastapi`` extra).

verified = Depends(webhook_event("whsec_..."))

@app.post("/webhooks/report")
async def report(event: ReportAvailable = verified): ...
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from fastapi import HTTPException, Request

from hookline_receiver.events import Event
from hookline_receiver.verification import (
    DEFAULT_TOLERANCE_SECONDS,
    EventNotice,
    VerificationError,
    verify,
)


async def delivery_content(request: Request) -> bytes:
    """The signed content: the body of a POST, the raw query string of a GET."""
    if request.method == "GET":
        return request.scope.get("query_string", b"")
    return await request.body()


def webhook_event(
    secret: str | Iterable[str], tolerance: float = DEFAULT_TOLERANCE_SECONDS
) -> Callable[[Request], Awaitable[Event | EventNotice]]:
    """A dependency giving the route the verified, typed event. A delivery that does not
    verify is answered 400, so Hookline retries it and logs why."""
    secrets = [secret] if isinstance(secret, str) else list(secret)

    async def verified_event(request: Request) -> Event | EventNotice:
        try:
            return verify(await delivery_content(request), request.headers, secrets, tolerance)
        except VerificationError as exc:
            raise HTTPException(400, str(exc)) from None

    return verified_event
