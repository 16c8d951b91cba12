"""SQLite runs one delivery worker per database file; this lock makes that explicit."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from hookline.errors import Conflict


class SecondWorkerError(Conflict):
    default_code = "second_worker"


class SingleWorkerLock:
    """An exclusive, non-blocking lock on ``<database>.worker.lock``, held for the worker's
    life. The kernel drops it when the process dies, even by kill -9."""

    def __init__(self, database_path: str) -> None:
        self._database_path = database_path
        self._path = Path(f"{database_path}.worker.lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SecondWorkerError(
                "another Hookline worker is already delivering from this SQLite database "
                f"({self._database_path}). SQLite runs one worker; to run several, use "
                "PostgreSQL (HOOKLINE_DATABASE_URL=postgresql://…)."
            ) from None
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
