"""Apply the Alembic migrations to the configured database."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option(
        "script_location", str(resources.files("hookline.store").joinpath("migrations"))
    )
    # ConfigParser treats "%" as interpolation; a password may contain one.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_to_head(database_url: str) -> None:
    """Bring the schema up to date. Synchronous: call it before the event loop starts."""
    command.upgrade(alembic_config(database_url), "head")
