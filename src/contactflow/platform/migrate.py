"""Schema changes go through Alembic only; this applies them."""

import contextlib
import sqlite3
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str) -> None:
    """Bring the database to the newest schema. Must not run inside an event loop."""
    command.upgrade(alembic_config(database_url), "head")
    if database_url.startswith("sqlite"):
        _use_write_ahead_log(database_url)


def _use_write_ahead_log(database_url: str) -> None:
    """WAL is a property of the database file: set once here, not by every new connection."""
    path = database_url.split("///", 1)[1]
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
