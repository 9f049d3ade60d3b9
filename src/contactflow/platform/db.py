"""The database: table base, the unit of work (one transaction per use case) and its reads;
the engines it runs on are made in engines.py.

SQLite is the embedded default and PostgreSQL the scale path; the same code runs on both.
SQLite allows one writer at a time, so writes in this process queue on an asyncio lock
instead of failing with "database is locked"; other processes wait on busy_timeout.
"""

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress
from datetime import datetime
from typing import Any, TypeVar, cast

import asyncpg
from sqlalchemy import (
    ColumnElement,
    DateTime,
    Engine,
    MetaData,
    Table,
    insert,
    inspect,
    literal,
    text,
)
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
)
from sqlalchemy.orm import DeclarativeBase, QueryableAttribute, configure_mappers
from sqlalchemy.orm.instrumentation import manager_of_class
from sqlalchemy.types import TypeDecorator

from contactflow.platform.clock import as_utc, naive_utc
from contactflow.platform.engines import (
    SQLITE_READ_THREADS,
    WRITER,
    async_engine,
    sqlite_read_engine,
)
from contactflow.platform.notifications import Listener, OwnBackends
from contactflow.platform.signals import Wakeups

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python; timestamptz on PostgreSQL, naive UTC text on SQLite."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return naive_utc(value) if dialect.name == "sqlite" else as_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


T = TypeVar("T")
RowT = TypeVar("RowT", bound=Base)


def new_row(model: type[RowT], **values: Any) -> RowT:
    """A new row of `model` with `values`, as `model(**values)` makes it but without the
    ORM's change events for each attribute (what a loaded row gets): a flush or
    `UnitOfWork.insert_new` writes what it holds, and later changes to it are tracked."""
    manager = manager_of_class(model)
    if not manager.mapper.configured:
        configure_mappers()  # as a first `model(...)` or query would
    row: RowT = manager.new_instance()
    vars(row).update(values)
    return row


# What says the database server could not be reached, or ended the session (stopped,
# restarting, crashed), as opposed to a statement that failed on a working connection.
_UNREACHABLE: tuple[type[BaseException], ...] = (
    ConnectionError,
    asyncpg.PostgresConnectionError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,
)
NOTIFY_CHANNEL = "contactflow_changes"
_NOTIFY = text("SELECT pg_notify(:channel, topic) FROM unnest(CAST(:topics AS text[])) topic")


def one_of(
    column: ColumnElement[Any] | QueryableAttribute[Any], values: Iterable[Any]
) -> ColumnElement[bool]:
    """`column IN (values)` for values fixed when a statement is built once: a bound parameter
    each, compiled with the statement. An IN of a plain list is an expanding parameter, which
    SQLAlchemy renders into the SQL again at every execution (ADR 0055)."""
    return column.in_([literal(value) for value in values])


def database_unreachable(error: BaseException | None) -> bool:
    """Whether `error`, or what it wraps, says the database is out of reach for now: a
    request fails with a 503 and a worker's step is retried, with no traceback for either."""
    for _ in range(8):  # the driver's error, SQLAlchemy's wrapper of it, and their causes
        if error is None:
            return False
        if isinstance(error, _UNREACHABLE):
            return True
        if isinstance(error, DBAPIError) and error.connection_invalidated:
            return True
        error = getattr(error, "orig", None) or error.__cause__
    return False


class UnitOfWork:
    """One transaction. Services change state through it; only its owner commits."""

    def __init__(self, session: AsyncSession, dialect: str) -> None:
        self.session = session
        self.dialect = dialect
        # The topics this transaction's commit wakes (platform/topics.py).
        self.woken: set[str] = set()
        # What caused this transaction's changes when it was not a request (a flow run,
        # "flow:<id>"): recorded on its events, so that consumers can tell their own echoes.
        self.origin: str | None = None
        self._before_commit: list[Callable[[], Awaitable[None]]] = []
        self._after_commit: list[Callable[[], None]] = []
        # What this transaction gathers to write as it commits, each as a function that
        # marks its state now and returns what puts it back (`savepoint` undoes with them);
        # and the undos of the savepoints open now.
        self._gathered: list[Callable[[], Callable[[], None]]] = []
        self._open_savepoints: list[list[Callable[[], None]]] = []

    def before_commit(self, write: Callable[[], Awaitable[None]], *, first: bool = False) -> None:
        """Run `write` last in this transaction, just before it commits: what the
        transaction gathered as it went (events, activity counts), written once. `first`
        runs it before the others: the writes that lock shared rows then lock them in the
        same order in every transaction, so two committing transactions cannot wait on
        each other in a cycle."""
        if first:
            self._before_commit.insert(0, write)
        else:
            self._before_commit.append(write)

    def gathers(self, mark: Callable[[], Callable[[], None]]) -> None:
        """Register state gathered for `before_commit` (events, counts), before anything is
        gathered in it: `mark()` returns what puts it back as it is at that moment, so a
        savepoint rolled back undoes what was gathered inside it."""
        self._gathered.append(mark)
        for undos in self._open_savepoints:
            undos.append(mark())

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A savepoint: when its block raises, what the block wrote is rolled back, and so
        is what it gathered to write at commit, while the transaction goes on."""
        undos = [mark() for mark in self._gathered]
        self._open_savepoints.append(undos)
        try:
            async with self.session.begin_nested():
                yield
        except BaseException:
            for undo in undos:
                undo()
            raise
        finally:
            # By identity: two savepoints' undos are equal lists while both are empty.
            self._open_savepoints = [other for other in self._open_savepoints if other is not undos]

    async def insert_new(self, rows: Sequence["Base"]) -> None:
        """New rows of one model, made but never added to the session, written with Core
        inserts (one per set of attributes given): no unit of work to flush them, no identity
        map to track them (they stay transient: read again, they are loaded from the
        database). What the session holds is flushed first, so a row they refer to is
        there. A column a row was not given takes its default, as a flush would give it."""
        if not rows:
            return
        await self.session.flush()
        mapper = inspect(type(rows[0]))
        alike: dict[tuple[tuple[str, str], ...], list[dict[str, Any]]] = {}
        for row in rows:
            given = vars(row)
            columns = tuple(
                (attribute.key, attribute.columns[0].key)
                for attribute in mapper.column_attrs
                if attribute.key in given
            )
            alike.setdefault(columns, []).append({column: given[key] for key, column in columns})
        for values in alike.values():
            await self.session.execute(insert(cast(Table, mapper.local_table)), values)

    def after_commit(self, note: Callable[[], None]) -> None:
        """Run `note` once this transaction has committed (never after a rollback): what the
        process counts of it (platform/outcomes.py)."""
        self._after_commit.append(note)

    def wake(self, *topics: str) -> None:
        """Wake the waiters on `topics` when this transaction commits: in this process
        through `Database.wakeups`, in others through PostgreSQL's NOTIFY (sent on commit)."""
        self.woken.update(topics)

    async def lock(self, name: str) -> None:
        """Serialise writers that share `name` until this transaction ends.

        SQLite already has a single writer, so only PostgreSQL needs an advisory lock.
        """
        if self.dialect == "postgresql":
            await self.session.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"), {"name": name}
            )

    async def lock_many(self, names: Iterable[str]) -> None:
        """`lock` for each of `names`, in one statement. They are taken in sorted order, so
        two transactions locking overlapping sets never wait on each other in a cycle."""
        ordered = sorted(set(names))
        if self.dialect == "postgresql" and ordered:
            await self.session.execute(
                text(
                    "SELECT pg_advisory_xact_lock(hashtextextended(name, 0))"
                    " FROM unnest(CAST(:names AS text[])) AS name"
                ),
                {"names": ordered},
            )


class Database:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine: AsyncEngine = async_engine(url, echo=echo)
        self.dialect = self.engine.dialect.name
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._write_lock = asyncio.Lock() if self.dialect == "sqlite" else None
        # Fired with the topics of each commit (and by the PostgreSQL listener with those of
        # other processes' commits), so the loops waiting on them wake up at once.
        self.wakeups = Wakeups()
        self._own_backends = OwnBackends(self.engine) if self.dialect == "postgresql" else None
        self._read_engine = sqlite_read_engine(url)
        self._read_threads: ThreadPoolExecutor | None = None
        # The LISTEN connection's keeper while `listening` is open, for readiness to consult.
        self.listener: Listener | None = None

    async def read(self, work: Callable[[Connection], T]) -> T:
        """`work(connection)`: reads on a synchronous connection, in one transaction that
        commits nothing. On a SQLite file it runs right here, on the event loop's thread: a
        read of a few rows through an index costs less than handing it to a thread and
        waiting for the GIL to come back (ADR 0053). On PostgreSQL it runs on the async driver
        (ADR 0012). A read whose length grows with the data goes through `scan`."""
        if self._read_engine is None:
            return await self._read_async(work)
        return _read_on(self._read_engine, work)

    async def scan(self, work: Callable[[Connection], T]) -> T:
        """`work` as `read` runs it, for a read whose length grows with the data (a text
        search, a count of a whole table). On a SQLite file it starts on the event loop's
        thread, as a read does; still walking SCAN_INLINE_SECONDS after it began, it is
        stopped and run again on one of the read threads, where SQLite walking the rows
        leaves the GIL to the event loop, which keeps serving meanwhile (ADR 0053, 0056)."""
        if self._read_engine is None:
            return await self._read_async(work)
        try:
            return _read_on(self._read_engine, work, budget=SCAN_INLINE_SECONDS)
        except _OverBudget:
            pass
        if self._read_threads is None:
            self._read_threads = ThreadPoolExecutor(
                SQLITE_READ_THREADS, thread_name_prefix="sqlite-read"
            )
        return await asyncio.get_running_loop().run_in_executor(
            self._read_threads, _read_on, self._read_engine, work
        )

    async def _read_async(self, work: Callable[[Connection], T]) -> T:
        async with self.engine.connect() as connection:
            if self.dialect == "postgresql":
                # Read committed gives each statement its own snapshot with or without a
                # transaction: without one, no BEGIN and ROLLBACK round trips.
                connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            return await connection.run_sync(work)

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[UnitOfWork]:
        """A write transaction: committed when the block ends, rolled back on error."""
        async with self._writer(), self._sessions() as session:
            async with session.begin():
                await session.connection(execution_options={WRITER: True})
                uow = UnitOfWork(session, self.dialect)
                yield uow
                for write in uow._before_commit:
                    await write()
                if uow.woken and self.dialect == "postgresql":
                    # One notification per topic, all in one round trip; PostgreSQL
                    # delivers them when the transaction commits.
                    await session.execute(
                        _NOTIFY, {"channel": NOTIFY_CHANNEL, "topics": sorted(uow.woken)}
                    )
            self.wakeups.fire(uow.woken)
            for note in uow._after_commit:
                note()

    @asynccontextmanager
    async def _writer(self) -> AsyncIterator[None]:
        if self._write_lock is None:
            yield
            return
        async with self._write_lock:
            yield

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[AsyncSession]:
        """A read-only session; nothing it does is committed."""
        async with self._sessions() as session:
            yield session

    @asynccontextmanager
    async def listening(self) -> AsyncIterator[None]:
        """While open, other processes' commits (PostgreSQL NOTIFY) fire their topics here,
        across losses of the database (`Listener`). SQLite has no such channel: its consumers
        rely on their poll interval."""
        if self.dialect != "postgresql":
            yield
            return
        assert self._own_backends is not None
        self.listener = Listener(self.engine, NOTIFY_CHANNEL, self.wakeups, self._own_backends)
        running = asyncio.create_task(self.listener.run())
        up = asyncio.create_task(self.listener.up.wait())
        await asyncio.wait({running, up}, return_when=asyncio.FIRST_COMPLETED)
        try:
            if running.done():
                running.result()  # the first connection's error
            yield
        finally:
            up.cancel()
            running.cancel()
            with suppress(asyncio.CancelledError):
                await running
            self.listener = None

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._read_threads is not None:
            self._read_threads.shutdown()
        if self._read_engine is not None:
            self._read_engine.dispose()


# How long a scan may walk on the event loop's thread before it goes to a read thread: under
# this, the hand-off and the GIL's return cost more than the walk (ADR 0056).
SCAN_INLINE_SECONDS = 0.002
# SQLite calls a connection's progress handler every this many steps of its virtual machine,
# a few microseconds of walking; the handler stops the statement once its time is up.
_PROGRESS_STEPS = 1000


class _OverBudget(Exception):
    """A read stopped by its time budget; nothing of it was kept."""


def _read_on(engine: Engine, work: Callable[[Connection], T], budget: float | None = None) -> T:
    """`work` in a read transaction on `engine`; with a `budget` (seconds), stopped with
    `_OverBudget` once SQLite has walked for longer than that."""
    with engine.connect() as connection, connection.begin():
        if budget is None:
            return work(connection)
        sqlite = cast(sqlite3.Connection, connection.connection.driver_connection)
        deadline = time.perf_counter() + budget
        sqlite.set_progress_handler(lambda: time.perf_counter() > deadline, _PROGRESS_STEPS)
        try:
            return work(connection)
        except OperationalError as error:
            if getattr(error.orig, "sqlite_errorcode", None) == sqlite3.SQLITE_INTERRUPT:
                raise _OverBudget from error
            raise
        finally:
            sqlite.set_progress_handler(None, 0)
