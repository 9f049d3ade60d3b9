"""How each backend's engines are made. PostgreSQL: the pool. SQLite: each connection's
settings, the kind of BEGIN a transaction takes, the async engine whose write transactions
run on the event loop's thread (sqlite_writes.py) and the synchronous engine that
`Database.read` and `Database.scan` use."""

from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from contactflow.platform import sqlite_writes

# The execution option that marks a unit of work's connection: its transaction writes.
WRITER = "contactflow_writer"
# Threads that run SQLite scans (Database.scan); SQLite readers do not block one another.
SQLITE_READ_THREADS = 4
# The most connections a process holds on PostgreSQL: four processes (two APIs, two workers)
# stay within PostgreSQL's default of 100.
PG_POOL_CONNECTIONS = 20


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Turn off the driver's implicit BEGIN so that _sqlite_begin chooses the kind.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in (
        "synchronous=NORMAL",
        "foreign_keys=ON",
        "busy_timeout=10000",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    """Writers take the write lock when they begin, not halfway through: two deferred
    transactions that both read and then write would deadlock across processes."""
    writer = connection.get_execution_options().get(WRITER, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")
    if writer:
        sqlite_writes.start_writing(connection)


def sqlite_read_engine(url: str) -> Engine | None:
    """A synchronous engine on the same SQLite file, for Database.read and scan; None for
    PostgreSQL and for in-memory databases (another engine would open another, empty,
    database)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    engine = create_engine(
        parsed.set(drivername="sqlite+pysqlite"),
        # One connection for each read thread and one for the event loop's thread.
        pool_size=SQLITE_READ_THREADS + 1,
        max_overflow=0,
        connect_args={"check_same_thread": False},
    )
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def async_engine(url: str, *, echo: bool) -> AsyncEngine:
    """The async engine: the units of work and the ORM's sessions, and on PostgreSQL every
    read."""
    if url.startswith("sqlite"):
        path = make_url(url).database
        options: dict[str, Any] = {"pool_size": 8, "max_overflow": 0}
        if path not in (None, "", ":memory:"):
            options["async_creator"] = sqlite_writes.connector(path)
        engine = create_async_engine(url, echo=echo, **options)
        event.listen(engine.sync_engine, "connect", _sqlite_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        event.listen(engine.sync_engine, "commit", sqlite_writes.stop_writing)
        event.listen(engine.sync_engine, "rollback", sqlite_writes.stop_writing)
        return engine
    # Recycling replaces a ping per checkout: stale connections are retired, not probed.
    # Every connection the pool opens is kept: an overflow connection is closed as it is
    # returned, so a load beyond the pool opened and closed one per request (ADR 0054).
    return create_async_engine(
        url, echo=echo, pool_size=PG_POOL_CONNECTIONS, max_overflow=0, pool_recycle=1800
    )
