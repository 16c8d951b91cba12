"""Alembic environment: runs migrations through Hookline's async engine, on either backend."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from hookline.store.database import DEFAULT_TIMEOUT, create_engine, resolve_pooler
from hookline.store.schema import metadata

config = context.config
MIGRATION_LOCK = 0x686F6F6B6C696E65  # "hookline"


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things in place; batch mode rebuilds the table.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Many processes may start at once and each migrates: one at a time, and the
            # later ones find the schema already at head.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        context.run_migrations()


async def _run_online() -> None:
    url = config.get_main_option("sqlalchemy.url") or ""
    timeout = config.attributes.get("connect_timeout", DEFAULT_TIMEOUT)
    pooler = config.attributes.get("pooler", "auto")
    behind_pooler = await resolve_pooler(url, pooler, timeout, unreachable_is_fatal=True)
    engine = create_engine(url, behind_pooler=behind_pooler, timeout=timeout)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Hookline runs its migrations online: use `hookline migrate`.")

asyncio.run(_run_online())
