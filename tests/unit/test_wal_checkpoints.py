"""SQLite's WAL checkpoints happen on their own thread, never inside a commit."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text

from hookline.config import Settings
from hookline.store.database import create_engine, open_database
from tests.support.waiting import eventually

ROWS = [{"data": bytes([n % 256]) * 4000} for n in range(1500)]  # 6 MB: 1,500 pages


def _sizes(path: Path) -> tuple[int, int]:
    """The database file's size and its log's."""
    return path.stat().st_size, Path(f"{path}-wal").stat().st_size


async def _write(engine) -> None:  # type: ignore[no-untyped-def]
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE blobs (data BLOB)"))
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO blobs VALUES (:data)"), ROWS)


def test_commits_leave_their_pages_in_the_log(tmp_path: Path) -> None:
    path = tmp_path / "hookline.db"

    async def work() -> None:
        engine = create_engine(f"sqlite:///{path}")
        try:
            await _write(engine)
            # Far past SQLite's automatic threshold (1,000 pages), yet nothing was copied
            # into the database file by the commit.
            database_size, log_size = _sizes(path)
            assert log_size > 5_000_000
            assert database_size < 100_000
        finally:
            await engine.dispose()

    asyncio.run(work())


def test_a_long_running_process_checkpoints_on_a_thread(tmp_path: Path) -> None:
    path = tmp_path / "hookline.db"

    async def work() -> None:
        database = await open_database(Settings(database_url=f"sqlite:///{path}"), checkpoints=True)
        try:
            await _write(database.engine)
            # The loop goes on; the checkpointer's thread copies the pages in meanwhile.
            await asyncio.to_thread(
                eventually, lambda: _sizes(path)[0] > 5_000_000, what="a checkpoint"
            )
        finally:
            await database.close()

    asyncio.run(work())
