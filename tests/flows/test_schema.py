"""Migrations 0007, 0008, 0009 and 0011 create exactly the tables the flows and connections
models describe, on both backends, and downgrade cleanly."""

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from contactflow.flows import keyvalue, models
from contactflow.flows.connections import models as connection_models
from contactflow.platform.db import Base, Database
from contactflow.platform.migrate import alembic_config

# The flows tables, the event log to which 0007 adds `origin`, and the connections tables.
FLOW_TABLES = {
    "flows",
    "flow_versions",
    "flow_runs",
    "flow_step_runs",
    "flow_timers",
    "flow_storage",
    "flow_seen_keys",
    "events",
    "connections",
    "connection_receipts",
}
# PostgreSQL's expression index for the runs' text search exists in migration 0018 only
# (SQLite has an FTS5 table instead, which no model describes either).
MIGRATION_ONLY_INDEXES = {"ix_flow_runs_input_trgm"}


def _table_of(diff: Any) -> str | None:
    """The table a difference is about (autogenerate gives tuples, or lists of tuples)."""
    item = diff[0] if isinstance(diff, list) else diff
    for part in item[1:]:
        name = getattr(part, "name", None) if not isinstance(part, str) else None
        table = getattr(part, "table", None)
        if table is not None:
            return str(table.name)
        if name in FLOW_TABLES:
            return str(name)
        if isinstance(part, str) and part in FLOW_TABLES:
            return part
    return None


async def test_the_migrated_flow_tables_match_the_models(db: Database) -> None:
    assert models.Flow.__tablename__ in Base.metadata.tables
    assert connection_models.Connection.__tablename__ in Base.metadata.tables
    assert keyvalue.StoredValue.__tablename__ in Base.metadata.tables

    def differences(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return [
            diff
            for diff in compare_metadata(context, Base.metadata)
            if _table_of(diff) in FLOW_TABLES
            and getattr(diff[1], "name", None) not in MIGRATION_ONLY_INDEXES
        ]

    async with db.engine.connect() as connection:
        found = await connection.run_sync(differences)
    assert found == []


def test_downgrade_and_upgrade_again(isolated_url: str) -> None:
    # A database of its own: dropping a table's index waits on every reader of the table,
    # and the session's servers' workers read them all the time (a deadlock on PostgreSQL).
    config = alembic_config(isolated_url)
    command.downgrade(config, "0006")
    command.upgrade(config, "head")
