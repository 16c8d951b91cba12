"""API keys: roles, the key format, and how keys are hashed for storage."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum

KEY_PREFIX = "hl_"


class Role(StrEnum):
    INTEGRATOR = "integrator"  # manages webhooks, reads delivery logs
    PUBLISHER = "publisher"  # the platform: publishes events


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's workspace and role."""

    key_id: str
    workspace_id: str
    role: Role


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    # Keys carry 256 random bits, so a fast hash is as safe as a slow one here and keeps
    # every request's lookup cheap.
    return hashlib.sha256(key.encode()).hexdigest()
