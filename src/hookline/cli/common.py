"""What every command shares: settings, user errors, migrations, the services."""

from __future__ import annotations

import asyncio
import errno
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import click
from sqlalchemy.exc import SQLAlchemyError

from hookline import logs
from hookline.app import Services, migrate, running
from hookline.config import Settings, SettingsError

T = TypeVar("T")


class UserError(click.ClickException):
    """A mistake in what the user gave (a variable, a flag, a busy port): one line on
    standard error naming it, exit status 2, no traceback."""

    exit_code = 2


def load_settings() -> Settings:
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        raise UserError(str(exc)) from None
    logs.configure(settings.log_level, json_format=settings.log_format == "json")
    return settings


def migrated(settings: Settings) -> Settings:
    """Apply the migrations, saying plainly when the database cannot be used."""
    try:
        migrate(settings)
    except SettingsError as exc:
        raise UserError(str(exc)) from None
    except (SQLAlchemyError, OSError) as exc:
        raise UserError(
            f"HOOKLINE_DATABASE_URL: cannot use the database: {_first_line(exc)}"
        ) from None
    return settings


def _first_line(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc
    return (str(cause).strip().splitlines() or [type(cause).__name__])[0]


def with_services(settings: Settings, work: Callable[[Services], Awaitable[T]]) -> T:
    """Run ``work`` against the services on this installation's database."""

    async def runner() -> T:
        async with running(settings) as services:
            return await work(services)

    return asyncio.run(runner())


def ensure_port_free(host: str, port: int, flag: str = "--port") -> None:
    """Refuse a port that is taken, before a server fails on it with a traceback."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            reason = (
                "is in use" if exc.errno == errno.EADDRINUSE else f"cannot be used ({exc.strerror})"
            )
            raise UserError(f"{flag} {port}: {host}:{port} {reason}") from None


def own_command() -> str:
    """How this shell can run hookline again: ``.venv/bin/hookline`` under ``make run``."""
    command = Path(sys.argv[0])
    if command.name != "hookline":
        return "hookline"
    try:
        return str(command.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(command)
