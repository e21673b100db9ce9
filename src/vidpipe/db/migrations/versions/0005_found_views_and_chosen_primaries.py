"""views a run has found so far (shown live); primary views the user chose among a photo's crops

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 11:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("found", sa.JSON(), nullable=True))
    op.create_table(
        "chosen_primaries",
        sa.Column("manifest_id", sa.Uuid(), nullable=False),
        sa.Column("upload_id", sa.Uuid(), nullable=False),
        sa.Column("bbox", sa.JSON(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["manifest_id"],
            ["manifests.id"],
            name=op.f("fk_chosen_primaries_manifest_id_manifests"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["upload_id"], ["uploads.id"], name=op.f("fk_chosen_primaries_upload_id_uploads"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chosen_primaries")),
    )
    with op.batch_alter_table("chosen_primaries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chosen_primaries_manifest_id"), ["manifest_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("chosen_primaries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chosen_primaries_manifest_id"))
    op.drop_table("chosen_primaries")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("found")
