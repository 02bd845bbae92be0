"""Apply the Alembic migrations programmatically (the app never calls `create_all`)."""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config


def migrations_dir() -> Path:
    """Where `migrations/` lives: GAPWATCH_MIGRATIONS_DIR, else the source checkout's root."""
    configured = os.environ.get("GAPWATCH_MIGRATIONS_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[3] / "migrations"


def alembic_config(database_url: str) -> Config:
    """An Alembic config pointing at `database_url`, without touching logging."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    # ConfigParser would read '%' in a password as interpolation.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["configure_logging"] = False
    return config


def upgrade_database(database_url: str, revision: str = "head") -> None:
    """Bring the database at `database_url` to `revision`."""
    command.upgrade(alembic_config(database_url), revision)
