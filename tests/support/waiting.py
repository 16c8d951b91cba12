"""One way to wait in tests: poll a check until it holds, or fail saying what was last seen."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(
    check: Callable[[], T],
    timeout: float = 10.0,
    interval: float = 0.05,
    what: str | Callable[[], str] = "",
) -> T:
    """Call ``check`` until it returns a truthy value (returned) or ``timeout`` passes.

    ``what`` names the awaited condition in the failure; a callable is asked only then,
    so it can describe the state at that moment (a log, what is missing)."""
    deadline = time.monotonic() + timeout
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() > deadline:
            described = what() if callable(what) else what
            raise AssertionError(f"not within {timeout} s: {described or check!r} (last: {last!r})")
        time.sleep(interval)
