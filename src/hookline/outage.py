"""What a process says while its database is unavailable: a few lines, not one per failure.

One ERROR line when the database becomes unavailable, with the cause; one WARNING line
for each other kind of fault that appears meanwhile; a reminder at most every
``reminder_seconds`` with how many operations failed since the last line; one INFO line
when it is back, with how long the outage lasted. Tracebacks only at DEBUG, once per
distinct cause and outage.

The database is back when an operation that failed during the outage has succeeded and
nothing has failed for ``settle_seconds`` since: a read that succeeds while writes fail (a
read-only primary) does not end it, nor does one part of the process that reconnects
while another still fails (a LISTEN on a direct connection while the pooler still waits
to log in again).

One per process (``database``), like the metrics: every part of the process (API
requests, the publish batcher, the worker's loops, the LISTEN connection) reports to it,
so an outage is told once however many parts notice it.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable

from hookline import metrics

DEFAULT_REMINDER_SECONDS = 30.0
# Longer than the worker's and the LISTEN connection's pause between retries (1 s), so that
# while anything still fails, a failure comes within it.
SETTLE_SECONDS = 2.5


class OutageLog:
    def __init__(
        self,
        logger: logging.Logger,
        reminder_seconds: float = DEFAULT_REMINDER_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        settle_seconds: float = SETTLE_SECONDS,
    ) -> None:
        self._log = logger
        self.reminder_seconds = reminder_seconds
        self._settle_seconds = settle_seconds
        self._clock = clock
        self._since: float | None = None  # when the outage began; None while available
        self._last_failure = 0.0
        self._back_since: float | None = None  # the first success since the last failure
        self._failing: set[str] = set()  # what has failed during this outage
        self._kinds: set[str] = set()
        self._during: Counter[str] = Counter()  # failures during this outage, by what
        self._since_last_line: Counter[str] = Counter()
        self._last_line = 0.0
        self._tracebacks: set[tuple[str, str]] = set()

    def failed(self, what: str, kind: str, cause: str, exc: BaseException | None = None) -> None:
        """``what`` (an operation's name) failed because of a database fault."""
        now = self._clock()
        metrics.DATABASE_FAULTS.labels(kind).inc()
        self._last_failure = now
        self._back_since = None
        self._failing.add(what)
        self._during[what] += 1
        self._since_last_line[what] += 1
        if self._since is None:
            self._since = self._last_line = now
            self._kinds = {kind}
            metrics.DATABASE_UNAVAILABLE.set(1)
            self._log.error(
                "database unavailable (%s): %s; failing with 503 and retrying until it is back",
                what,
                cause,
            )
        elif kind not in self._kinds:
            self._kinds.add(kind)
            self._log.warning("database still unavailable, now also (%s): %s", what, cause)
        elif now - self._last_line >= self.reminder_seconds:
            self._log.warning(
                "database still unavailable after %.0f s (%s): %d failed since the last report: %s",
                now - self._since,
                cause,
                self._since_last_line.total(),
                _counts(self._since_last_line),
            )
            self._last_line = now
            self._since_last_line.clear()
        if exc is not None and self._log.isEnabledFor(logging.DEBUG):
            distinct = (kind, type(exc).__name__)
            if distinct not in self._tracebacks:
                self._tracebacks.add(distinct)
                self._log.debug("the first %s of this outage", type(exc).__name__, exc_info=exc)

    def succeeded(self, what: str) -> None:
        """``what`` succeeded. The outage is over once something that failed during it
        has succeeded, and something succeeds when nothing has failed for a while."""
        if self._since is None:
            return
        now = self._clock()
        if self._back_since is None:
            if what not in self._failing:
                return
            self._back_since = now
        if now - self._last_failure < self._settle_seconds:
            return
        self._log.info(
            "database available again after %.1f s; %d operations failed meanwhile: %s",
            self._back_since - self._since,
            self._during.total(),
            _counts(self._during),
        )
        metrics.DATABASE_UNAVAILABLE.set(0)
        self._since = self._back_since = None
        self._failing.clear()
        self._kinds.clear()
        self._during.clear()
        self._since_last_line.clear()
        self._tracebacks.clear()


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{what} {count}" for what, count in counter.most_common())


database = OutageLog(logging.getLogger("hookline.database"))
