"""initial registry tables

Revision ID: 0001
Revises: -
Create Date: 2026-11-21 06:23:31.710336
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("target_id", sa.Uuid(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "QUEUED",
                "RUNNING",
                "SUCCEEDED",
                "FAILED",
                name="job_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("current_step", sa.String(length=64), nullable=True),
        sa.Column("progress", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_jobs_target_id"), ["target_id"], unique=False)

    op.create_table(
        "manifests",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "DRAFT",
                "PROCESSING",
                "READY",
                "ERROR",
                name="manifest_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("contact_sheet", sa.String(length=300), nullable=True),
        sa.Column("upload_count", sa.Integer(), nullable=False),
        sa.Column("asset_count", sa.Integer(), nullable=False),
        sa.Column("stats", sa.JSON(), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_manifests")),
    )
    op.create_table(
        "uploads",
        sa.Column("manifest_id", sa.Uuid(), nullable=False),
        sa.Column("storage_key", sa.String(length=300), nullable=False),
        sa.Column("original_filename", sa.String(length=300), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "asset_type",
            sa.Enum(
                "CHARACTER",
                "OBJECT",
                "PROP",
                "ENVIRONMENT",
                "VEHICLE",
                "STYLE",
                name="asset_type",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["manifest_id"], ["manifests.id"], name=op.f("fk_uploads_manifest_id_manifests"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_uploads")),
        sa.UniqueConstraint("manifest_id", "sha256", name=op.f("uq_uploads_manifest_id_sha256")),
    )
    with op.batch_alter_table("uploads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_uploads_manifest_id"), ["manifest_id"], unique=False)

    op.create_table(
        "assets",
        sa.Column("manifest_id", sa.Uuid(), nullable=False),
        sa.Column(
            "asset_type",
            sa.Enum(
                "CHARACTER",
                "OBJECT",
                "PROP",
                "ENVIRONMENT",
                "VEHICLE",
                "STYLE",
                name="asset_type",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("manifest_tag", sa.String(length=32), nullable=True),
        sa.Column("user_tags", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("reverse_prompt", sa.Text(), nullable=True),
        sa.Column("visual_description", sa.Text(), nullable=True),
        sa.Column("quality_score", sa.Float(), nullable=True),
        sa.Column("suggested_name", sa.String(length=200), nullable=True),
        sa.Column(
            "source",
            sa.Enum(
                "uploaded",
                "extracted",
                "generated",
                name="asset_source",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("detection_class", sa.String(length=64), nullable=True),
        sa.Column("detection_confidence", sa.Float(), nullable=True),
        sa.Column("is_face_crop", sa.Boolean(), nullable=False),
        sa.Column("upload_id", sa.Uuid(), nullable=True),
        sa.Column("primary_reference_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["manifest_id"], ["manifests.id"], name=op.f("fk_assets_manifest_id_manifests"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["upload_id"], ["uploads.id"], name=op.f("fk_assets_upload_id_uploads"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assets")),
        sa.UniqueConstraint("manifest_id", "manifest_tag", name=op.f("uq_assets_manifest_id_manifest_tag")),
    )
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_assets_manifest_id"), ["manifest_id"], unique=False)

    op.create_table(
        "asset_references",
        sa.Column("asset_id", sa.Uuid(), nullable=False),
        sa.Column("upload_id", sa.Uuid(), nullable=True),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("bbox", sa.JSON(), nullable=True),
        sa.Column("image_key", sa.String(length=300), nullable=False),
        sa.Column("thumbnail_key", sa.String(length=300), nullable=True),
        sa.Column("face_embedding", sa.LargeBinary(), nullable=True),
        sa.Column("face_embedding_model", sa.String(length=100), nullable=True),
        sa.Column("image_embedding", sa.LargeBinary(), nullable=True),
        sa.Column("image_embedding_model", sa.String(length=100), nullable=True),
        sa.Column("quality_score", sa.Float(), nullable=True),
        sa.Column("frame_time_seconds", sa.Float(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_asset_references_asset_id_assets"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["upload_id"], ["uploads.id"], name=op.f("fk_asset_references_upload_id_uploads"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_asset_references")),
    )
    with op.batch_alter_table("asset_references", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_asset_references_asset_id"), ["asset_id"], unique=False)

    # assets and asset_references point at each other: the second key can only follow both tables.
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_assets_primary_reference_id_asset_references"),
            "asset_references",
            ["primary_reference_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_assets_primary_reference_id_asset_references"), type_="foreignkey")
    with op.batch_alter_table("asset_references", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_asset_references_asset_id"))

    op.drop_table("asset_references")
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assets_manifest_id"))

    op.drop_table("assets")
    with op.batch_alter_table("uploads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_uploads_manifest_id"))

    op.drop_table("uploads")
    op.drop_table("manifests")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jobs_target_id"))

    op.drop_table("jobs")
