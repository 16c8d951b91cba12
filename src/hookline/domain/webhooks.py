"""Webhook rules: delivery methods, delivery states, secrets. (URLs: domain/inputs.py.)"""

from __future__ import annotations

import base64
import secrets
from enum import StrEnum

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
# After a rotation the previous secret keeps signing for this long, so receivers can
# switch over without dropping a delivery.
PREVIOUS_SECRET_TTL_SECONDS = 24 * 3600.0


class HttpMethod(StrEnum):
    GET = "get"
    POST = "post"


class Ordering(StrEnum):
    NONE = "none"
    # Deliveries of one interview to the webhook go one at a time, in publish order.
    INTERVIEW = "interview"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()
