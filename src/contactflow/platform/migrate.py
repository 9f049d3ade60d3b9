"""Schema changes go through Alembic only; this applies them."""

import contextlib
import sqlite3
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from contactflow.platform.db import Database

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
VERSION_TABLE = "alembic_version"  # Alembic's default name


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


def sqlite_file(database_url: str) -> Path | None:
    """The file of a SQLite database URL; None for another database."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database:
        return None
    return Path(url.database)


async def is_migrated(db: Database) -> bool:
    """Whether the migrations were ever applied to the database (it has their version
    table)."""
    async with db.reader() as session:
        connection = await session.connection()
        return await connection.run_sync(lambda sync: inspect(sync).has_table(VERSION_TABLE))


def _use_write_ahead_log(database_url: str) -> None:
    """WAL is a property of the database file: set once here, not by every new connection."""
    path = sqlite_file(database_url)
    assert path is not None, database_url
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
