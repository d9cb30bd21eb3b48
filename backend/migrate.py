"""Alembic, driven from the desk's settings rather than an ini file."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from backend.config import Settings
from backend.db import get_engine, unbounded

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", settings.database_url.replace("%", "%%"))
    config.attributes["settings"] = settings
    return config


def upgrade(settings: Settings, revision: str = "heads") -> None:
    """Every head by default: independent branches (an index-only one) apply in any order."""
    with get_engine(settings).begin() as connection, unbounded(connection):
        config = alembic_config(settings)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(settings: Settings, revision: str) -> None:
    with get_engine(settings).begin() as connection, unbounded(connection):
        config = alembic_config(settings)
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
