"""JSON request bodies decoded once, by Hookline's own rules, before FastAPI reads them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from fastapi.routing import APIRoute

from hookline.domain.inputs import decode_json


def _is_json(request: Request) -> bool:
    """Whether FastAPI would read the body as JSON: a JSON media type, or none at all."""
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type in ("", "application/json") or media_type.endswith("+json")


class StrictJsonRoute(APIRoute):
    """A route whose JSON body is decoded by ``decode_json``: malformed JSON is a 400,
    nesting that would exhaust the parser a 422, whatever the route."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()

        async def decode_then_handle(request: Request) -> Response:
            if _is_json(request):
                body = await request.body()
                if body:
                    # Starlette's Request.json() returns this from now on.
                    request._json = decode_json(body)
            return await handler(request)

        return decode_then_handle
