"""Apply the Alembic migrations to the configured database."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config

from hookline.store.database import DEFAULT_TIMEOUT


def alembic_config(
    database_url: str, pooler: str = "auto", connect_timeout: float = DEFAULT_TIMEOUT
) -> Config:
    config = Config()
    # What env.py needs to build the engine as the application does (pooler or not).
    config.attributes["pooler"] = pooler
    config.attributes["connect_timeout"] = connect_timeout
    config.set_main_option(
        "script_location", str(resources.files("hookline.store").joinpath("migrations"))
    )
    # ConfigParser treats "%" as interpolation; a password may contain one.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_to_head(
    database_url: str, pooler: str = "auto", connect_timeout: float = DEFAULT_TIMEOUT
) -> None:
    """Bring the schema up to date. Synchronous: call it before the event loop starts.
    ``pooler`` as HOOKLINE_DATABASE_POOLER: behind PgBouncer in transaction mode the
    migrations still run, each in one transaction, without prepared statements."""
    command.upgrade(alembic_config(database_url, pooler, connect_timeout), "head")
