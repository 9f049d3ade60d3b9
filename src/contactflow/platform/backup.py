"""Backups of a SQLite database, taken with SQLite's online backup API: a consistent copy
while servers and workers write (it copies pages under a read transaction, restarting when
a writer changes one it copied), written beside the target and renamed into place, so that a
backup file is whole or absent. PostgreSQL is backed up with its own tools
(`pg_dump` and `pg_restore`, or the provider's snapshots): `recipe` gives the commands.

What a backup does not hold is the key that decrypts the secrets stored in it (webhook
secrets, connection tokens): CONTACTFLOW_SECRET_KEYS or the key file (secret_key_file).
"""

import os
import sqlite3
from pathlib import Path

from sqlalchemy.engine import URL, make_url

# Pages copied per round: small rounds let writers in between them.
PAGES_PER_ROUND = 1024


class NotADatabase(ValueError):
    pass


def copy_sqlite(source: Path, target: Path) -> int:
    """Copy the SQLite database `source` to `target` (replaced atomically) while others
    may write to it; the copy's size in bytes."""
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    reading = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        writing = sqlite3.connect(partial)
        try:
            reading.backup(writing, pages=PAGES_PER_ROUND)
            # One file, however the source is journaled: no -wal beside the copy to lose.
            writing.execute("PRAGMA journal_mode=DELETE")
        finally:
            writing.close()
    finally:
        reading.close()
    os.replace(partial, target)
    return target.stat().st_size


def check_sqlite(path: Path) -> None:
    """Refuse a file that is not a sound SQLite database."""
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            result = connection.execute("PRAGMA quick_check").fetchone()
        finally:
            connection.close()
    except sqlite3.DatabaseError as error:
        raise NotADatabase(f"{path} is not a SQLite database: {error}") from error
    if result is None or result[0] != "ok":
        raise NotADatabase(f"{path} fails SQLite's check: {result}")


def restore_sqlite(backup: Path, target: Path) -> None:
    """Put the backup in place of `target` (its journal files with it: they belong to the
    database being replaced)."""
    check_sqlite(backup)
    for suffix in ("-wal", "-shm", "-journal"):
        target.with_name(target.name + suffix).unlink(missing_ok=True)
    copy_sqlite(backup, target)


def recipe(database_url: str, file: Path, *, restore: bool) -> str:
    """The PostgreSQL commands that back the database up into `file`, or restore it from
    there (the password left out: give it by PGPASSWORD or ~/.pgpass)."""
    given = make_url(database_url)
    address = URL.create(
        "postgresql",
        username=given.username,
        host=given.host,
        port=given.port,
        database=given.database,
        query=given.query,
    ).render_as_string(hide_password=False)
    if restore:
        return f"pg_restore --clean --if-exists --no-owner --dbname '{address}' '{file}'"
    return f"pg_dump --format=custom --no-owner --file '{file}' '{address}'"
