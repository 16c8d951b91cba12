"""Webhook rules: delivery methods, destination URL shape, secrets."""

from __future__ import annotations

import base64
import secrets
from enum import StrEnum
from urllib.parse import urlsplit

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
# After a rotation the previous secret keeps signing for this long, so receivers can
# switch over without dropping a delivery.
PREVIOUS_SECRET_TTL_SECONDS = 24 * 3600.0
MAX_URL_LENGTH = 2048


class HttpMethod(StrEnum):
    GET = "get"
    POST = "post"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def check_url_shape(url: str) -> str:
    """Return the URL if it is an absolute http(s) URL with a host, else raise ValueError."""
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(f"must be at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a malformed port
    except ValueError:
        raise ValueError("must be a valid absolute http(s) URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http(s) URL, like https://example.com/hook")
    if parts.username or parts.password:
        raise ValueError("must not contain credentials")
    if port == 0:
        raise ValueError("must not use port 0")
    if any(ch.isspace() for ch in url):
        raise ValueError("must not contain whitespace")
    return url
