"""``hookline listen``: a local receiver for development that verifies and prints deliveries."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from aiohttp import web

from hookline_receiver import VerificationError, event_type_of, verify


def _summary(payload: dict) -> str:
    candidate = (payload.get("metadata") or {}).get("candidate_name")
    score = (
        ((payload.get("agentic_data") or {}).get("web_interview_info") or {})
        .get("summary", {})
        .get("match_score")
    )
    parts = [f"interview {payload.get('interview_id')}", f"posting {payload.get('posting_id')}"]
    if candidate:
        parts.append(f"candidate {candidate}")
    if score is not None:
        parts.append(f"score {score}")
    return ", ".join(parts)


def make_app(secrets: list[str], echo: Callable[[str], None]) -> web.Application:
    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        is_get = request.method == "GET"
        content = request.query_string.encode() if is_get else body
        stamp = datetime.now().strftime("%H:%M:%S")
        try:
            event_type = event_type_of(request.headers).value
            if secrets:
                verify(content, request.headers, secrets)  # passes if any secret signed it
            fields = dict(request.query) if is_get else json.loads(body)
        except (VerificationError, ValueError) as exc:
            echo(f"{stamp}  REFUSED {request.method} {request.path}: {exc}")
            return web.json_response({"error": str(exc)}, status=400)
        checked = "verified" if secrets else "unverified (no --secret)"
        echo(
            f"{stamp}  {event_type:<20} {request.method} {request.path}  {_summary(fields)}"
            f"  [{checked}, webhook-id {request.headers.get('webhook-id')}]"
        )
        return web.json_response({"received": True})

    app = web.Application(client_max_size=2 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app
