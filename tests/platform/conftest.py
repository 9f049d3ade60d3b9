"""Fixtures of the operator's commands' tests."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import fresh_postgres_database


@pytest.fixture
def empty_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A new database on the same backend as the session's, with no schema at all (on SQLite,
    its file does not exist yet)."""
    if database_url.startswith("sqlite"):
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    with fresh_postgres_database() as url:
        yield url
