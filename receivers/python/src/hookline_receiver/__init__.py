"""Receive Hookline deliveries: verify their Standard Webhooks signature and get the typed
event.

    from hookline_receiver import VerificationError, verify

    event = verify(body, headers, "whsec_...")  # InterviewStarted, InterviewCompleted, …

FastAPI and Flask helpers: ``hookline_receiver.fastapi`` and ``hookline_receiver.flask``
(install the ``fastapi`` or ``flask`` extra, or have the framework already).
"""

from hookline_receiver.events import (
    GET_QUERY_FIELDS,
    PAYLOAD_MODELS,
    Event,
    EventType,
    InterviewCompleted,
    InterviewStarted,
    ReportAvailable,
)
from hookline_receiver.verification import (
    DEFAULT_TOLERANCE_SECONDS,
    EventNotice,
    VerificationError,
    event_type_of,
    parse_event,
    sign,
    verify,
    verify_signature,
)

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_TOLERANCE_SECONDS",
    "GET_QUERY_FIELDS",
    "PAYLOAD_MODELS",
    "Event",
    "EventNotice",
    "EventType",
    "InterviewCompleted",
    "InterviewStarted",
    "ReportAvailable",
    "VerificationError",
    "event_type_of",
    "parse_event",
    "sign",
    "verify",
    "verify_signature",
]
