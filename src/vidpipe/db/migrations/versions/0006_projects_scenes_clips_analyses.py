"""projects, scenes, clips, clip analyses and asset appearances; where each reference came from

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _stamps() -> list[sa.Column[Any]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("manifest_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(["manifest_id"], ["manifests.id"], name=op.f("fk_projects_manifest_id_manifests")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
    )
    op.create_index(op.f("ix_projects_manifest_id"), "projects", ["manifest_id"], unique=False)
    op.create_table(
        "scenes",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("expected_tags", sa.JSON(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_scenes_project_id_projects"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scenes")),
        sa.UniqueConstraint("project_id", "index", name=op.f("uq_scenes_project_id_index")),
    )
    op.create_index(op.f("ix_scenes_project_id"), "scenes", ["project_id"], unique=False)
    op.create_table(
        "clips",
        sa.Column("scene_id", sa.Uuid(), nullable=False),
        sa.Column("storage_key", sa.String(length=300), nullable=False),
        sa.Column("original_filename", sa.String(length=300), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("fps", sa.Float(), nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("codec", sa.String(length=40), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(["scene_id"], ["scenes.id"], name=op.f("fk_clips_scene_id_scenes"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clips")),
    )
    op.create_index(op.f("ix_clips_scene_id"), "clips", ["scene_id"], unique=False)
    op.create_table(
        "clip_analyses",
        sa.Column("clip_id", sa.Uuid(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("continuity_score", sa.Float(), nullable=False),
        sa.Column("gate", sa.String(length=8), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("seconds", sa.JSON(), nullable=False),
        sa.Column("frame_embedding_model", sa.String(length=100), nullable=True),
        sa.Column("frame_embeddings", sa.LargeBinary(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["clip_id"], ["clips.id"], name=op.f("fk_clip_analyses_clip_id_clips"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clip_analyses")),
    )
    op.create_index(op.f("ix_clip_analyses_clip_id"), "clip_analyses", ["clip_id"], unique=False)
    with op.batch_alter_table("asset_references", schema=None) as batch_op:
        batch_op.add_column(sa.Column("origin", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("clip_id", sa.Uuid(), nullable=True))
    op.execute("UPDATE asset_references SET origin = CASE WHEN upload_id IS NULL THEN 'user' ELSE 'upload' END")
    with op.batch_alter_table("asset_references", schema=None) as batch_op:
        batch_op.alter_column("origin", existing_type=sa.String(length=16), nullable=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_asset_references_clip_id_clips"), "clips", ["clip_id"], ["id"], ondelete="SET NULL"
        )
    op.create_table(
        "asset_appearances",
        sa.Column("asset_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("scene_id", sa.Uuid(), nullable=False),
        sa.Column("clip_id", sa.Uuid(), nullable=False),
        sa.Column("analysis_id", sa.Uuid(), nullable=False),
        sa.Column("frame_index", sa.Integer(), nullable=False),
        sa.Column("timestamp_seconds", sa.Float(), nullable=False),
        sa.Column("bbox", sa.JSON(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("reference_id", sa.Uuid(), nullable=True),
        sa.Column("similarity", sa.Float(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["analysis_id"],
            ["clip_analyses.id"],
            name=op.f("fk_asset_appearances_analysis_id_clip_analyses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_asset_appearances_asset_id_assets"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["clip_id"], ["clips.id"], name=op.f("fk_asset_appearances_clip_id_clips"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_asset_appearances_project_id_projects"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["reference_id"],
            ["asset_references.id"],
            name=op.f("fk_asset_appearances_reference_id_asset_references"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["scene_id"], ["scenes.id"], name=op.f("fk_asset_appearances_scene_id_scenes"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_asset_appearances")),
    )
    for column in ("asset_id", "project_id", "clip_id", "analysis_id"):
        op.create_index(op.f(f"ix_asset_appearances_{column}"), "asset_appearances", [column], unique=False)


def downgrade() -> None:
    for column in ("asset_id", "project_id", "clip_id", "analysis_id"):
        op.drop_index(op.f(f"ix_asset_appearances_{column}"), table_name="asset_appearances")
    op.drop_table("asset_appearances")
    op.execute("DELETE FROM asset_references WHERE origin = 'generated'")
    with op.batch_alter_table("asset_references", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_asset_references_clip_id_clips"), type_="foreignkey")
        batch_op.drop_column("clip_id")
        batch_op.drop_column("origin")
    op.drop_index(op.f("ix_clip_analyses_clip_id"), table_name="clip_analyses")
    op.drop_table("clip_analyses")
    op.drop_index(op.f("ix_clips_scene_id"), table_name="clips")
    op.drop_table("clips")
    op.drop_index(op.f("ix_scenes_project_id"), table_name="scenes")
    op.drop_table("scenes")
    op.drop_index(op.f("ix_projects_manifest_id"), table_name="projects")
    op.drop_table("projects")
