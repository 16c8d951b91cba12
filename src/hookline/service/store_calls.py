"""Where the service layer meets the store: the one place a database fault (unreachable,
restarting, timed out, pool exhausted, disk full, read-only) becomes
``hookline.errors.Unavailable``, a 503 with Retry-After for the API and the dashboard's
"try again shortly" page, on both backends."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

from hookline import outage
from hookline.errors import HooklineError, Unavailable
from hookline.store.faults import database_fault

P = ParamSpec("P")
R = TypeVar("R")


class StoreService:
    """Base of every service. Each public coroutine method a subclass defines is wrapped
    so that a database fault it meets is raised as Unavailable and told to the process's
    outage log (which writes a few lines per outage, not one per request); its success
    tells the log the database answers again."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, member in list(vars(cls).items()):
            if not name.startswith("_") and inspect.iscoroutinefunction(member):
                setattr(cls, name, _mapping_faults(member, f"{cls.__name__}.{name}"))


def _mapping_faults(method: Callable[P, Awaitable[R]], what: str) -> Callable[P, Awaitable[R]]:
    @functools.wraps(method)
    async def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            result = await method(*args, **kwargs)
        except HooklineError:
            raise
        except Exception as exc:
            fault = database_fault(exc)
            if fault is None:
                raise
            outage.database.failed(what, fault.kind, fault.cause, exc)
            raise Unavailable(f"{fault.summary}; try again shortly") from exc
        outage.database.succeeded(what)
        return result

    return call
