"""Standard Webhooks signatures: ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{content}">``."""

from __future__ import annotations

import base64
import hashlib
import hmac

from hookline.domain.webhooks import SECRET_PREFIX


def secret_key(secret: str) -> bytes:
    """The HMAC key inside a ``whsec_<base64>`` secret."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    return base64.b64decode(encoded + "=" * (-len(encoded) % 4))


def sign(secret: str, message_id: str, timestamp: int, content: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + content
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets: list[str], message_id: str, timestamp: int, content: bytes) -> str:
    """One signature per secret, space-separated, as the specification allows during rotation."""
    return " ".join(sign(s, message_id, timestamp, content) for s in secrets)


def signing_secrets(
    secret: str, previous_secret: str | None, previous_expires_at: float | None, now: float
) -> list[str]:
    """The current secret, plus the previous one while its grace period lasts."""
    if previous_secret and previous_expires_at is not None and previous_expires_at > now:
        return [secret, previous_secret]
    return [secret]
