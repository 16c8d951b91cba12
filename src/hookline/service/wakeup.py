"""Telling this process's delivery worker that new work is stored."""

from __future__ import annotations

from collections.abc import Callable


class Wakeup:
    """Stands between the services and a worker that may or may not run in this
    process: until one attaches, waking does nothing (other processes learn of new work
    through the database)."""

    def __init__(self) -> None:
        self._wake: Callable[[], None] | None = None

    def attach(self, wake: Callable[[], None]) -> None:
        self._wake = wake

    def __call__(self) -> None:
        if self._wake is not None:
            self._wake()
