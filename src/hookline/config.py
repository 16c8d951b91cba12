"""Settings, read from HOOKLINE_* environment variables and validated in one place
(pydantic-settings). Each field's description is the README's settings table."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "HOOKLINE_"
DEFAULT_DATABASE_URL = "sqlite:///./data/hookline.db"
# Seconds to wait between attempts after the first, immediate one: 5 s, 5 min, 30 min,
# 2 h, 5 h, 10 h, 10 h (the schedule Svix publishes).
DEFAULT_RETRY_SCHEDULE = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)


class SettingsError(ValueError):
    """A HOOKLINE_* variable holds a value that cannot be used; the message names it."""


def parse_retry_schedule(raw: str) -> tuple[float, ...]:
    """Parse "5,300,1800" into delays in seconds; an empty string means no retries."""
    if not raw.strip():
        return ()
    delays = []
    for part in raw.split(","):
        try:
            delay = float(part)
        except ValueError:
            raise ValueError(f"must be comma-separated seconds, not {raw!r}") from None
        if not 0 <= delay < float("inf"):
            raise ValueError(f"has a delay that is negative or not finite: {part!r}")
        delays.append(delay)
    return tuple(delays)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore")

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="`sqlite:///PATH` or `postgresql://user:pass@host:port/db`; for failover "
        "several hosts: `postgresql://user:pass@h1:5432,h2:5432/db?target_session_attrs=read-write`",
    )
    database_pooler: Literal["auto", "none", "pgbouncer"] = Field(
        "auto",
        description="`pgbouncer`: a pooler in transaction mode stands in front of "
        "PostgreSQL, so no prepared statement may outlive a transaction; `none`: a direct "
        "connection; `auto`: find out at start (a pooler answers with a backend key that is "
        "not its server's)",
    )
    direct_database_url: str | None = Field(
        None,
        description="behind a pooler: a direct `postgresql://` URL for LISTEN/NOTIFY "
        "wake-ups and migrations; without it workers poll every `HOOKLINE_POLL_INTERVAL` "
        "and migrations go through the pooler",
    )
    database_timeout: float = Field(
        5.0, gt=0,
        description="seconds to wait to connect, or for a free pooled connection, before "
        "answering 503; also how long a stopping worker waits for a claim in flight",
    )  # fmt: skip
    readiness_timeout: float = Field(
        2.0, gt=0, description="seconds `/readyz` waits for the database before answering 503"
    )
    outage_log_interval: float = Field(
        30.0, gt=0,
        description="while the database is unavailable, seconds between reminders in the "
        "log, each with a count of what failed meanwhile",
    )  # fmt: skip
    allow_private_urls: bool = Field(
        False,
        description="allow loopback and private destinations (local development, demos, tests)",
    )
    retry_schedule: Annotated[tuple[float, ...], NoDecode] = Field(
        DEFAULT_RETRY_SCHEDULE,
        description="seconds between attempts after the first, immediate one; `1,1,1` "
        "means four attempts at most",
    )
    # Each delay is multiplied by a random factor in [1 - jitter, 1 + jitter] so that
    # deliveries that failed together do not all retry in the same instant.
    retry_jitter: float = Field(
        0.1, ge=0, lt=1, description="each delay is multiplied by a random factor in "
        "[1 - j, 1 + j]"
    )  # fmt: skip
    delivery_timeout: float = Field(
        15.0, gt=0, description="seconds an attempt may take, connection included"
    )
    worker_concurrency: int = Field(
        200, ge=1, description="attempts in flight at once, per worker process"
    )
    endpoint_concurrency: int = Field(
        20, ge=1, description="attempts in flight at once to one webhook"
    )
    claim_batch_size: int = Field(
        200, ge=1, description="deliveries claimed per database round trip"
    )
    # A claim expires after the longest an attempt can take plus a margin, so a worker
    # that died mid-send releases its deliveries to the others.
    lease_seconds: float = Field(
        60.0, gt=0, description="how long a claim lasts; must exceed the delivery timeout"
    )
    poll_interval: float = Field(
        1.0, gt=0,
        description="seconds between checks for due work when nothing wakes the worker",
    )  # fmt: skip
    # A webhook whose every attempt has failed for this long is deactivated (Svix: 5 days).
    disable_after_hours: float = Field(
        120.0, gt=0,
        description="deactivate a webhook whose every attempt has failed for this long",
    )  # fmt: skip
    retention_days: float = Field(
        30.0, gt=0,
        description="events, deliveries and attempts older than this are purged (events "
        "with a pending delivery are kept)",
    )  # fmt: skip
    purge_interval: float = Field(
        600.0, gt=0,
        description="seconds between retention purges; each purges in batches of 500",
    )  # fmt: skip
    public_url: str | None = Field(
        None,
        description="the base of the URLs Hookline hands out (portal links), like "
        "`https://hooks.example.com`; unset: the request's own",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="`debug`, `info`, `warning`, `error`"
    )
    log_format: Literal["text", "json"] = Field(
        "text",
        description="`json`: one JSON object a line, with `event_id`, `delivery_id` and "
        "`webhook_id` fields where they apply",
    )

    @field_validator("retry_schedule", mode="before")
    @classmethod
    def _schedule_from_text(cls, value: Any) -> Any:
        return parse_retry_schedule(value) if isinstance(value, str) else value

    @field_validator("direct_database_url", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return value or None

    @field_validator("log_level", "log_format", "database_pooler", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _lease_outlasts_attempt(self) -> Settings:
        if self.lease_seconds <= self.delivery_timeout:
            raise ValueError(
                f"{ENV_PREFIX}LEASE_SECONDS must be longer than {ENV_PREFIX}DELIVERY_TIMEOUT"
            )
        return self

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings from ``environ`` (default: this process's environment); a
        SettingsError naming the variable when one cannot be used."""
        env = os.environ if environ is None else environ
        given = {
            name: env[f"{ENV_PREFIX}{name.upper()}"]
            for name in cls.model_fields
            if f"{ENV_PREFIX}{name.upper()}" in env
        }
        return cls.checked(**given)

    @classmethod
    def checked(cls, **values: Any) -> Settings:
        """Settings from these values alone (no environment), each validated."""
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise SettingsError(_describe(exc)) from None

    def changed(self, **changes: Any) -> Settings:
        """A copy with ``changes``, validated like any other settings."""
        return self.checked(**(self.model_dump() | changes))


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False):
        name = f"{ENV_PREFIX}{error['loc'][0]}".upper() if error["loc"] else ""
        message = error["msg"].removeprefix("Value error, ")
        given = error.get("input")
        # The database URL may hold a password: never repeat it.
        secret = name in {f"{ENV_PREFIX}DATABASE_URL", f"{ENV_PREFIX}DIRECT_DATABASE_URL"}
        shown = f" (given {given!r})" if isinstance(given, str) and name and not secret else ""
        problems.append(f"{name}: {message}{shown}" if name else message)
    return "; ".join(problems)
