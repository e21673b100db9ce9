"""durable jobs (parameters, owner, heartbeat, cancel flag, a CANCELLED status); dismissed views

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = ("QUEUED", "RUNNING", "SUCCEEDED", "FAILED")
NEW_STATUSES = (*OLD_STATUSES, "CANCELLED")


def _allowed(values: tuple[str, ...]) -> str:
    # The column stays VARCHAR(32); only its CHECK constraint (named by the convention) changes.
    return "status IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("params", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("owner", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("cancel_requested", sa.Boolean(), nullable=True))
    op.execute("UPDATE jobs SET params = '{}', cancel_requested = false")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.alter_column("params", existing_type=sa.JSON(), nullable=False)
        batch_op.alter_column("cancel_requested", existing_type=sa.Boolean(), nullable=False)
        batch_op.drop_constraint(op.f("ck_jobs_job_status"), type_="check")
        batch_op.create_check_constraint("job_status", _allowed(NEW_STATUSES))
        batch_op.create_index(batch_op.f("ix_jobs_status"), ["status"], unique=False)
    op.create_table(
        "dismissed_views",
        sa.Column("manifest_id", sa.Uuid(), nullable=False),
        sa.Column("upload_id", sa.Uuid(), nullable=False),
        sa.Column("bbox", sa.JSON(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["manifest_id"], ["manifests.id"], name=op.f("fk_dismissed_views_manifest_id_manifests"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["upload_id"], ["uploads.id"], name=op.f("fk_dismissed_views_upload_id_uploads"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dismissed_views")),
    )
    with op.batch_alter_table("dismissed_views", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dismissed_views_manifest_id"), ["manifest_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("dismissed_views", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dismissed_views_manifest_id"))
    op.drop_table("dismissed_views")
    op.execute("UPDATE jobs SET status = 'FAILED' WHERE status = 'CANCELLED'")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jobs_status"))
        batch_op.drop_constraint(op.f("ck_jobs_job_status"), type_="check")
        batch_op.create_check_constraint("job_status", _allowed(OLD_STATUSES))
        batch_op.drop_column("cancel_requested")
        batch_op.drop_column("heartbeat_at")
        batch_op.drop_column("owner")
        batch_op.drop_column("params")
