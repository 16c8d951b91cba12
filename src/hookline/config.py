"""Settings read from HOOKLINE_* environment variables, gathered in one object."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_DATABASE_URL = "sqlite:///./data/hookline.db"
# Seconds to wait between attempts after the first, immediate one: 5 s, 5 min, 30 min,
# 2 h, 5 h, 10 h, 10 h (the schedule Svix publishes).
DEFAULT_RETRY_SCHEDULE = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)


class SettingsError(ValueError):
    """A HOOKLINE_* variable holds a value that cannot be used."""


def _parse_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise SettingsError(f"{name} must be true or false, not {raw!r}")


def _parse_number(name: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {raw!r}") from None


def _parse_positive(name: str, raw: str) -> float:
    value = _parse_number(name, raw)
    if value <= 0:
        raise SettingsError(f"{name} must be greater than 0, not {raw!r}")
    return value


def parse_retry_schedule(raw: str) -> tuple[float, ...]:
    """Parse "5,300,1800" into delays in seconds; an empty string means no retries."""
    if not raw.strip():
        return ()
    delays = []
    for part in raw.split(","):
        try:
            delay = float(part)
        except ValueError:
            raise SettingsError(
                f"HOOKLINE_RETRY_SCHEDULE must be comma-separated seconds, not {raw!r}"
            ) from None
        if delay < 0:
            raise SettingsError(f"HOOKLINE_RETRY_SCHEDULE has a negative delay: {part!r}")
        delays.append(delay)
    return tuple(delays)


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    retry_schedule: tuple[float, ...] = DEFAULT_RETRY_SCHEDULE
    # Each delay is multiplied by a random factor in [1 - jitter, 1 + jitter] so that
    # deliveries that failed together do not all retry in the same instant.
    retry_jitter: float = 0.1
    delivery_timeout: float = 15.0
    allow_private_urls: bool = False
    worker_concurrency: int = 200
    endpoint_concurrency: int = 20
    claim_batch_size: int = 200
    # A claim expires after the longest an attempt can take plus a margin, so a worker
    # that died mid-send releases its deliveries to the others.
    lease_seconds: float = 60.0
    poll_interval: float = 1.0
    # A webhook whose every attempt has failed for this long is deactivated (Svix: 5 days).
    disable_after_hours: float = 120.0
    retention_days: float = 30.0
    purge_interval: float = 600.0
    log_level: str = "info"
    log_format: str = "text"  # or "json"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        kwargs = {
            attr: parse(name, env[name]) for name, (attr, parse) in _FROM_ENV.items() if name in env
        }
        settings = cls(**kwargs)
        if settings.lease_seconds <= settings.delivery_timeout:
            raise SettingsError(
                "HOOKLINE_LEASE_SECONDS must be longer than HOOKLINE_DELIVERY_TIMEOUT"
            )
        return settings


def _parse_jitter(name: str, raw: str) -> float:
    jitter = _parse_number(name, raw)
    if not 0 <= jitter < 1:
        raise SettingsError(f"{name} must be in [0, 1), not {raw!r}")
    return jitter


def _parse_log_format(name: str, raw: str) -> str:
    if raw.lower() not in ("text", "json"):
        raise SettingsError(f"{name} must be text or json, not {raw!r}")
    return raw.lower()


def _parse_positive_int(name: str, raw: str) -> int:
    return int(_parse_positive(name, raw))


# Each HOOKLINE_* variable: the setting it fills and how its text is read.
_FROM_ENV: dict[str, tuple[str, Callable[[str, str], Any]]] = {
    "HOOKLINE_DATABASE_URL": ("database_url", lambda _name, raw: raw),
    "HOOKLINE_RETRY_SCHEDULE": ("retry_schedule", lambda _name, raw: parse_retry_schedule(raw)),
    "HOOKLINE_RETRY_JITTER": ("retry_jitter", _parse_jitter),
    "HOOKLINE_DELIVERY_TIMEOUT": ("delivery_timeout", _parse_positive),
    "HOOKLINE_ALLOW_PRIVATE_URLS": ("allow_private_urls", _parse_bool),
    "HOOKLINE_WORKER_CONCURRENCY": ("worker_concurrency", _parse_positive_int),
    "HOOKLINE_ENDPOINT_CONCURRENCY": ("endpoint_concurrency", _parse_positive_int),
    "HOOKLINE_CLAIM_BATCH_SIZE": ("claim_batch_size", _parse_positive_int),
    "HOOKLINE_LEASE_SECONDS": ("lease_seconds", _parse_positive),
    "HOOKLINE_POLL_INTERVAL": ("poll_interval", _parse_positive),
    "HOOKLINE_DISABLE_AFTER_HOURS": ("disable_after_hours", _parse_positive),
    "HOOKLINE_RETENTION_DAYS": ("retention_days", _parse_positive),
    "HOOKLINE_PURGE_INTERVAL": ("purge_interval", _parse_positive),
    "HOOKLINE_LOG_LEVEL": ("log_level", lambda _name, raw: raw.lower()),
    "HOOKLINE_LOG_FORMAT": ("log_format", _parse_log_format),
}
