"""Verify a Flask request (install with the ``flask`` extra); works with any request
object that has ``method``, ``headers``, ``get_data()`` and ``query_string``.

    try:
        event = verify_flask(flask.request, "whsec_...")
    except VerificationError as exc:
        return {"error": str(exc)}, 400
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from hookline_receiver.events import Event
from hookline_receiver.verification import DEFAULT_TOLERANCE_SECONDS, EventNotice, verify

if TYPE_CHECKING:
    from flask import Request


def verify_flask(
    request: Request,
    secret: str | Iterable[str],
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
) -> Event | EventNotice:
    """The verified, typed event of a Flask request; raises ``VerificationError``."""
    content = request.query_string if request.method == "GET" else request.get_data()
    return verify(content, request.headers, secret, tolerance)
