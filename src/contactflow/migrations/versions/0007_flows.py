"""flows

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 04:10:00.000000

Flows: flows, their draft and published versions, runs (work items claimed with leases; one
per flow version and event) and each run's step runs (one per step: the idempotency record);
events record their origin (a flow run's changes), so a flow can ignore its own echoes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import contactflow.platform.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time(name: str, *, nullable: bool) -> sa.Column[object]:
    return sa.Column(name, contactflow.platform.db.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    # A nullable column: SQLite adds it in place, without copying the log.
    op.add_column("events", sa.Column("origin", sa.String(length=64), nullable=True))
    op.create_table(
        "flows",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("location_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("published_version_id", sa.String(length=32), nullable=True),
        sa.Column("event_type", sa.String(length=64), nullable=True),
        _time("created_at", nullable=False),
        _time("updated_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_flows_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flows")),
    )
    with op.batch_alter_table("flows", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_flows_location_id_created_at_id"),
            ["location_id", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_flows_enabled_event_type"), ["enabled", "event_type"], unique=False
        )

    op.create_table(
        "flow_versions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("flow_id", sa.String(length=32), nullable=False),
        sa.Column("location_id", sa.String(length=32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        _time("created_at", nullable=False),
        _time("updated_at", nullable=False),
        _time("published_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["flow_id"],
            ["flows.id"],
            name=op.f("fk_flow_versions_flow_id_flows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_versions")),
        sa.UniqueConstraint("flow_id", "number", name=op.f("uq_flow_versions_flow_id_number")),
    )
    with op.batch_alter_table("flow_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_flow_versions_flow_id_status"), ["flow_id", "status"], unique=False
        )

    op.create_table(
        "flow_runs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("location_id", sa.String(length=32), nullable=False),
        sa.Column("flow_id", sa.String(length=32), nullable=False),
        sa.Column("version_id", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=32), nullable=True),
        sa.Column("replay_of", sa.String(length=32), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("input", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _time("next_attempt_at", nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        _time("lease_expires_at", nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("test", sa.Boolean(), nullable=False),
        _time("created_at", nullable=False),
        _time("started_at", nullable=True),
        _time("finished_at", nullable=True),
        _time("updated_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["flow_id"], ["flows.id"], name=op.f("fk_flow_runs_flow_id_flows"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["flow_versions.id"],
            name=op.f("fk_flow_runs_version_id_flow_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_runs")),
        sa.UniqueConstraint(
            "version_id", "event_id", name=op.f("uq_flow_runs_version_id_event_id")
        ),
    )
    with op.batch_alter_table("flow_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_flow_runs_state_next_attempt_at"),
            ["state", "next_attempt_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_flow_runs_flow_id_created_at_id"),
            ["flow_id", "created_at", "id"],
            unique=False,
        )

    op.create_table(
        "flow_step_runs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("step_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=128), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("input", sa.JSON(), nullable=True),
        sa.Column("output", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _time("resume_at", nullable=True),
        _time("started_at", nullable=False),
        _time("finished_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["flow_runs.id"],
            name=op.f("fk_flow_step_runs_run_id_flow_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_step_runs")),
        sa.UniqueConstraint("run_id", "step_id", name=op.f("uq_flow_step_runs_run_id_step_id")),
    )


def downgrade() -> None:
    op.drop_table("flow_step_runs")
    with op.batch_alter_table("flow_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_flow_runs_flow_id_created_at_id"))
        batch_op.drop_index(batch_op.f("ix_flow_runs_state_next_attempt_at"))

    op.drop_table("flow_runs")
    with op.batch_alter_table("flow_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_flow_versions_flow_id_status"))

    op.drop_table("flow_versions")
    with op.batch_alter_table("flows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_flows_enabled_event_type"))
        batch_op.drop_index(batch_op.f("ix_flows_location_id_created_at_id"))

    op.drop_table("flows")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("origin")
