"""PostgreSQL's planner statistics for the tables the delivery path queries.

Autovacuum refreshes a table's statistics once enough of it has changed (a tenth by
default; 2 % for ``deliveries``, migration 0006), but it looks only once a minute
(``autovacuum_naptime``). A burst of publishes outruns that: after 20,000 events into a
fresh database the planner still took ``deliveries`` for 19 pending rows, so every claim
sorted all the due rows and every record scanned all the pending ones instead of looking
up its own (10 to 20 ms each, against about 1 ms with fresh statistics). Hookline's
worker looks every few seconds and analyses a table itself once a tenth of it changed.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from hookline.store.database import single_statements
from hookline.store.faults import has_sqlstate

# Those whose plans change with their size: the queue and the rows it joins.
TABLES = ("deliveries", "events", "webhooks")
# Analysed once this many rows changed since the last ANALYZE, plus this share of them:
# autovacuum's default proportion (the bursts matter, not the last percent), with a
# floor that spares small tables.
CHANGED_ROWS = 1000
CHANGED_SHARE = 0.1
# An ANALYZE waits no longer than this for autovacuum (or another worker) to let go of
# the table: it is then done by them, or by this worker next time.
LOCK_TIMEOUT = "100ms"
LOCK_NOT_AVAILABLE = "55P03"

# Only tables this role may analyse (their owner's, as ``hookline migrate`` creates them):
# on another's, ANALYZE would only warn, at every check.
CHANGED_SINCE_ANALYZE = text(
    "SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
    "WHERE s.relid = ANY(CAST(:tables AS regclass[])) "
    # Cast: an untyped parameter beside a bigint would be sent as one, the share as 0.
    "AND s.n_mod_since_analyze > CAST(:rows AS bigint) "
    "+ CAST(:share AS double precision) * s.n_live_tup "
    "AND pg_has_role(c.relowner, 'USAGE')"
)


# One worker at a time analyses a table, and only while it is still stale: workers check
# on the same beat, and each that found the table stale analysed it in turn (with two
# workers, every ANALYZE of deliveries twice; the publishes of those moments waited for
# a core, the slowest of them by 8 to 16 ms).
ANALYSING = text("SELECT pg_try_advisory_xact_lock(hashtext('hookline analyze ' || :table))")


def _stale_params(tables: list[str]) -> dict[str, object]:
    return {"tables": tables, "rows": CHANGED_ROWS, "share": CHANGED_SHARE}


async def stale_tables(engine: AsyncEngine) -> list[str]:
    """The tables that changed enough since their statistics were taken."""
    async with single_statements(engine) as conn:
        found = await conn.execute(CHANGED_SINCE_ANALYZE, _stale_params(list(TABLES)))
        return [name for (name,) in found]


async def analyze(engine: AsyncEngine, table: str) -> bool:
    """Refresh one table's statistics (its name one of TABLES, never from input); false
    when another worker is analysing it or has just done so, or autovacuum holds it."""
    if table not in TABLES:
        raise ValueError(f"not a delivery table: {table}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
            if not await conn.scalar(ANALYSING, {"table": table}):
                return False
            if (await conn.execute(CHANGED_SINCE_ANALYZE, _stale_params([table]))).first() is None:
                return False
            await conn.execute(text(f"ANALYZE {table}"))
    except DBAPIError as exc:
        if has_sqlstate(exc, LOCK_NOT_AVAILABLE):
            return False
        raise
    return True
