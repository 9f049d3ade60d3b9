"""flow triggers without events

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 07:50:00.000000

Schedules, hook URLs and record-relative triggers: flows record their running trigger's key
and their hook token; timers hold when a version fires next without an event (a schedule's
next time, or the time planned for one task or appointment). Flows published before this
revision have event triggers only, so their `trigger_key` stays empty until they publish again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import contactflow.platform.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time(name: str, *, nullable: bool) -> sa.Column[object]:
    return sa.Column(name, contactflow.platform.db.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    # Nullable columns: SQLite adds them in place.
    op.add_column("flows", sa.Column("trigger_key", sa.String(length=128), nullable=True))
    op.add_column("flows", sa.Column("hook_token", sa.String(length=64), nullable=True))
    op.create_table(
        "flow_timers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("location_id", sa.String(length=32), nullable=False),
        sa.Column("flow_id", sa.String(length=32), nullable=False),
        sa.Column("version_id", sa.String(length=32), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        _time("due_at", nullable=False),
        sa.Column("payload", sa.JSON(), nullable=True),
        _time("fired_at", nullable=True),
        _time("updated_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["flow_id"], ["flows.id"], name=op.f("fk_flow_timers_flow_id_flows"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["flow_versions.id"],
            name=op.f("fk_flow_timers_version_id_flow_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_timers")),
        sa.UniqueConstraint(
            "version_id", "record_id", name=op.f("uq_flow_timers_version_id_record_id")
        ),
    )
    with op.batch_alter_table("flow_timers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_flow_timers_fired_at_due_at"), ["fired_at", "due_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("flow_timers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_flow_timers_fired_at_due_at"))
    op.drop_table("flow_timers")
    with op.batch_alter_table("flows", schema=None) as batch_op:
        batch_op.drop_column("hook_token")
        batch_op.drop_column("trigger_key")
