"""`one_of`: an IN of values fixed when a statement is built, compiled once with it rather than
rendered again at every execution (ADR 0055)."""

from sqlalchemy import column, select, table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from contactflow.platform.db import one_of

EVENTS = table("events", column("type"))
ASYNCPG: Dialect = postgresql.asyncpg.dialect()  # type: ignore[no-untyped-call]


def test_each_value_is_a_parameter_of_the_compiled_statement() -> None:
    statement = select(EVENTS.c.type).where(one_of(EVENTS.c.type, ("TaskCreate", "NoteCreate")))

    for dialect in (ASYNCPG, sqlite.dialect()):
        compiled = statement.compile(dialect=dialect)
        assert "POSTCOMPILE" not in compiled.string
        assert sorted(compiled.params.values()) == ["NoteCreate", "TaskCreate"]


def test_a_plain_in_list_would_be_rendered_at_execution() -> None:
    statement = select(EVENTS.c.type).where(EVENTS.c.type.in_(("TaskCreate", "NoteCreate")))

    assert "POSTCOMPILE" in statement.compile(dialect=ASYNCPG).string
