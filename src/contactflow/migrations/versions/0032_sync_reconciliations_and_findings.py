"""sync reconciliations, their findings, scheduled checks, delete policies and held deletes

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-07 01:30:00.000000

A sync may be reconciled every so many minutes (its next check found by reconcile_due_at);
a reconciliation keeps its counts, a finding per record or pair out of step (paged by
(reconciliation_id, id), the open ones by state), and the progress of their repair. A linked
pair whose one record was deleted while the other was kept says which side is gone. A sync's
delete policy (existing syncs keep their partners: `ignore`), and the deletes held for a
person, listed per sync newest first.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from contactflow.platform.db import UTCDateTime

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("syncs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("on_delete", sa.String(length=16), nullable=False, server_default="ignore")
        )
        batch_op.add_column(sa.Column("reconcile_minutes", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("reconcile_due_at", UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            batch_op.f("ix_syncs_reconcile_due_at"), ["reconcile_due_at"], unique=False
        )
    with op.batch_alter_table("sync_links", schema=None) as batch_op:
        batch_op.add_column(sa.Column("gone", sa.String(length=16), nullable=True))

    op.create_table(
        "sync_reconciliations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("sync_id", sa.String(length=32), nullable=False),
        sa.Column("scheduled", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("in_sync", sa.Integer(), nullable=False),
        sa.Column("pending", sa.Integer(), nullable=False),
        sa.Column("found", sa.JSON(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("repair_state", sa.String(length=16), nullable=True),
        sa.Column("repair_total", sa.Integer(), nullable=False),
        sa.Column("repair_done", sa.Integer(), nullable=False),
        sa.Column("repair_failed", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["sync_id"],
            ["syncs.id"],
            name=op.f("fk_sync_reconciliations_sync_id_syncs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_reconciliations")),
    )
    with op.batch_alter_table("sync_reconciliations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sync_reconciliations_sync_id_created_at_id"),
            ["sync_id", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_sync_reconciliations_state_created_at"),
            ["state", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_sync_reconciliations_repair_state"), ["repair_state"], unique=False
        )

    op.create_table(
        "sync_findings",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("reconciliation_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("crm_id", sa.String(length=64), nullable=True),
        sa.Column("mailsuite_id", sa.String(length=64), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("repaired_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["reconciliation_id"],
            ["sync_reconciliations.id"],
            name=op.f("fk_sync_findings_reconciliation_id_sync_reconciliations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_findings")),
    )
    with op.batch_alter_table("sync_findings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sync_findings_reconciliation_id_id"),
            ["reconciliation_id", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_sync_findings_reconciliation_id_state_id"),
            ["reconciliation_id", "state", "id"],
            unique=False,
        )

    op.create_table(
        "sync_held_deletes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("sync_id", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=16), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["sync_id"],
            ["syncs.id"],
            name=op.f("fk_sync_held_deletes_sync_id_syncs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_held_deletes")),
    )
    with op.batch_alter_table("sync_held_deletes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sync_held_deletes_sync_id_created_at_id"),
            ["sync_id", "created_at", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("sync_held_deletes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_held_deletes_sync_id_created_at_id"))
    op.drop_table("sync_held_deletes")
    with op.batch_alter_table("sync_findings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_findings_reconciliation_id_state_id"))
        batch_op.drop_index(batch_op.f("ix_sync_findings_reconciliation_id_id"))
    op.drop_table("sync_findings")
    with op.batch_alter_table("sync_reconciliations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_reconciliations_repair_state"))
        batch_op.drop_index(batch_op.f("ix_sync_reconciliations_state_created_at"))
        batch_op.drop_index(batch_op.f("ix_sync_reconciliations_sync_id_created_at_id"))
    op.drop_table("sync_reconciliations")
    with op.batch_alter_table("sync_links", schema=None) as batch_op:
        batch_op.drop_column("gone")
    with op.batch_alter_table("syncs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_syncs_reconcile_due_at"))
        batch_op.drop_column("reconcile_due_at")
        batch_op.drop_column("reconcile_minutes")
        batch_op.drop_column("on_delete")
