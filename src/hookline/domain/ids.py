"""Identifiers: a readable prefix and 20 random hex digits, like ``webhook_3f9a…``."""

import secrets

ID_RANDOM_BYTES = 10


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(ID_RANDOM_BYTES)}"
