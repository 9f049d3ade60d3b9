"""Fixtures of the operator's commands' tests."""

import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from contactflow.platform.db import Database
from tests.support import fresh_postgres_database

NOTES_FILE = "notes.db"


@pytest.fixture
def empty_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A new database on the same backend as the session's, with no schema at all (on SQLite,
    its file does not exist yet)."""
    if database_url.startswith("sqlite"):
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture
async def sqlite_notes(tmp_path: Path) -> AsyncIterator[Database]:
    """A SQLite file in WAL mode (tmp_path / NOTES_FILE) with one empty table, `notes`."""
    path = tmp_path / NOTES_FILE
    with sqlite3.connect(path) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE notes (body TEXT NOT NULL)")
    setup.close()
    database = Database(f"sqlite+aiosqlite:///{path}")
    yield database
    await database.dispose()
