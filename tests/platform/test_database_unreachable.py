"""Which errors say the database is out of reach (a 503, a step retried) rather than a
statement that failed (a bug, or a conflict the caller is told about)."""

import asyncpg
import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError

from contactflow.platform.db import database_unreachable


def wrapped(error: Exception, *, invalidated: bool = False) -> DBAPIError:
    """As SQLAlchemy raises a driver's error: its own wrapper, the driver's error as `orig`."""
    return DBAPIError("SELECT 1", None, error, connection_invalidated=invalidated)


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connection refused"),
        ConnectionResetError(104, "Connection reset by peer"),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        wrapped(asyncpg.ConnectionDoesNotExistError("connection was closed")),
        wrapped(RuntimeError("connection is closed"), invalidated=True),
    ],
)
def test_the_server_gone_is_unreachable(error: Exception) -> None:
    assert database_unreachable(error)


def test_a_cause_is_looked_at() -> None:
    error = RuntimeError("could not open a session")
    error.__cause__ = ConnectionRefusedError(111, "Connection refused")
    assert database_unreachable(error)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bad input"),
        asyncpg.QueryCanceledError("canceling statement due to statement timeout"),
        IntegrityError("INSERT", None, asyncpg.UniqueViolationError("duplicate key")),
        wrapped(asyncpg.DeadlockDetectedError("deadlock detected")),
    ],
)
def test_a_failed_statement_is_not(error: Exception) -> None:
    assert not database_unreachable(error)
