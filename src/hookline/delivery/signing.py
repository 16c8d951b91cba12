"""Standard Webhooks signatures: ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{content}">``."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from functools import lru_cache

from hookline.domain.webhooks import SECRET_PREFIX


def secret_key(secret: str) -> bytes:
    """The HMAC key inside a ``whsec_<base64>`` secret."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    return base64.b64decode(encoded + "=" * (-len(encoded) % 4))


@lru_cache(maxsize=4096)
def _keyed_hmac(secret: str) -> hmac.HMAC:
    # Decoding the key and keying HMAC cost more than hashing a small body: do it once
    # per secret and copy the keyed state for each message.
    return hmac.new(secret_key(secret), digestmod=hashlib.sha256)


def sign(secret: str, message_id: str, timestamp: int, content: bytes) -> str:
    # The keyed state is copied, then fed the parts as they are: no formatted string.
    mac = _keyed_hmac(secret).copy()
    mac.update(message_id.encode())
    mac.update(b".%d." % timestamp)
    mac.update(content)
    return "v1," + binascii.b2a_base64(mac.digest(), newline=False).decode()


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
