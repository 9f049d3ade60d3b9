"""Schema changes go through Alembic only; this applies them."""

import contextlib
import sqlite3
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text
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


@lru_cache
def head_revisions() -> frozenset[str]:
    """The newest migrations this code has (what `upgrade` brings a database to)."""
    return frozenset(ScriptDirectory.from_config(alembic_config("")).get_heads())


def current_revisions(connection: Connection) -> frozenset[str] | None:
    """The migrations the database is at; None when none was ever applied."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    return frozenset(connection.scalars(text("SELECT version_num FROM alembic_version")))


def _use_write_ahead_log(database_url: str) -> None:
    """WAL is a property of the database file: set once here, not by every new connection."""
    path = sqlite_file(database_url)
    assert path is not None, database_url
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
