"""describe provenance: which provider and model described each asset, tokens, or the error

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 11:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("describe_provider", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("describe_model", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("describe_prompt_version", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("describe_input_tokens", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("describe_output_tokens", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("describe_error", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.drop_column("describe_error")
        batch_op.drop_column("describe_output_tokens")
        batch_op.drop_column("describe_input_tokens")
        batch_op.drop_column("describe_prompt_version")
        batch_op.drop_column("describe_model")
        batch_op.drop_column("describe_provider")
