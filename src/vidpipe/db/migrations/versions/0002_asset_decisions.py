"""asset decisions: the user's merges and splits, kept across re-runs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 10:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "asset_decisions",
        sa.Column("manifest_id", sa.Uuid(), nullable=False),
        sa.Column("same", sa.Boolean(), nullable=False),
        sa.Column("upload_a_id", sa.Uuid(), nullable=False),
        sa.Column("bbox_a", sa.JSON(), nullable=False),
        sa.Column("upload_b_id", sa.Uuid(), nullable=False),
        sa.Column("bbox_b", sa.JSON(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["manifest_id"], ["manifests.id"], name=op.f("fk_asset_decisions_manifest_id_manifests"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["upload_a_id"], ["uploads.id"], name=op.f("fk_asset_decisions_upload_a_id_uploads"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["upload_b_id"], ["uploads.id"], name=op.f("fk_asset_decisions_upload_b_id_uploads"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_asset_decisions")),
    )
    with op.batch_alter_table("asset_decisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_asset_decisions_manifest_id"), ["manifest_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("asset_decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_asset_decisions_manifest_id"))
    op.drop_table("asset_decisions")
