"""the issues inbox: a failing subject's issue and the failures behind it

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06 20:35:15.346499

One issue per failing subject (a webhook endpoint, a flow's step) of a location, kept as
failures and successes are recorded; its recent failures name the deliveries or runs behind
it. The inbox pages on (location_id, last_failed_at, id), by status on (location_id, status,
last_failed_at, id); a success finds its subject's issue through (kind, subject_id,
location_id), which also keeps one issue per subject.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from contactflow.platform.db import UTCDateTime

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "issues",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("location_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=2048), nullable=False),
        sa.Column("flow_id", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_failed_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_failed_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("opened_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_issues_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issues")),
        sa.UniqueConstraint(
            "kind", "subject_id", "location_id", name=op.f("uq_issues_kind_subject_id_location_id")
        ),
    )
    with op.batch_alter_table("issues", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_issues_location_id_last_failed_at_id"),
            ["location_id", "last_failed_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_issues_location_id_status_last_failed_at_id"),
            ["location_id", "status", "last_failed_at", "id"],
            unique=False,
        )
    op.create_table(
        "issue_failures",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("issue_id", sa.String(length=32), nullable=False),
        sa.Column("record", sa.String(length=16), nullable=False),
        sa.Column("record_id", sa.String(length=32), nullable=False),
        sa.Column("failed_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["issue_id"],
            ["issues.id"],
            name=op.f("fk_issue_failures_issue_id_issues"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issue_failures")),
    )
    with op.batch_alter_table("issue_failures", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_issue_failures_issue_id_failed_at_id"),
            ["issue_id", "failed_at", "id"],
            unique=False,
        )


def downgrade() -> None:
    op.drop_table("issue_failures")
    op.drop_table("issues")
