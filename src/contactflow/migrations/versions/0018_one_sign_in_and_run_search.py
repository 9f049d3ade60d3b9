"""one sign-in for the dashboard and the consent page; an index on runs' trigger text

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 09:00:00.000000

The OAuth consent page signs people in with the dashboard's sessions (`web_sessions`): its
own `login_sessions` go; whoever was signed in there signs in once more.

Runs are searched by text of their trigger data (ADR 0011). PostgreSQL: a trigram GIN index
on the lower-cased JSON text (`pg_trgm`), which serves the same LIKE the query always had.
SQLite: an FTS5 table with the trigram tokenizer over `flow_runs.input` (external content,
rowid = the run's rowid), kept by triggers. A later migration that rebuilds `flow_runs` on
SQLite (batch mode copies rows under new rowids and drops the triggers) must create the
triggers again and run `rebuild_run_text_index`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import contactflow.platform.db

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


RUN_TEXT_TRIGGERS = {
    "flow_runs_text_insert": "AFTER INSERT ON flow_runs BEGIN "
    "INSERT INTO flow_runs_text(rowid, input) VALUES (new.rowid, new.input); END",
    "flow_runs_text_delete": "AFTER DELETE ON flow_runs BEGIN "
    "INSERT INTO flow_runs_text(flow_runs_text, rowid, input) "
    "VALUES ('delete', old.rowid, old.input); END",
    "flow_runs_text_update": "AFTER UPDATE OF input ON flow_runs BEGIN "
    "INSERT INTO flow_runs_text(flow_runs_text, rowid, input) "
    "VALUES ('delete', old.rowid, old.input); "
    "INSERT INTO flow_runs_text(rowid, input) VALUES (new.rowid, new.input); END",
}


def rebuild_run_text_index() -> None:
    op.execute("INSERT INTO flow_runs_text(flow_runs_text) VALUES ('rebuild')")


def upgrade() -> None:
    with op.batch_alter_table("login_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_sessions_user_id"))
    op.drop_table("login_sessions")
    if op.get_context().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            "CREATE INDEX ix_flow_runs_input_trgm ON flow_runs "
            "USING gin (lower(CAST(input AS TEXT)) gin_trgm_ops)"
        )
    else:
        op.execute(
            "CREATE VIRTUAL TABLE flow_runs_text USING fts5(input, content='flow_runs', "
            "content_rowid='rowid', tokenize='trigram')"
        )
        for name, body in RUN_TEXT_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")
        rebuild_run_text_index()


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_flow_runs_input_trgm")
    else:
        for name in RUN_TEXT_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
        op.execute("DROP TABLE flow_runs_text")
    op.create_table(
        "login_sessions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_login_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_login_sessions_token_hash")),
    )
    with op.batch_alter_table("login_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_sessions_user_id"), ["user_id"], unique=False)
