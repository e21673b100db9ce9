"""The Asset Registry's tables: manifests, uploads, assets with their references, and jobs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vidpipe.db.base import Base, IdMixin, TimestampMixin
from vidpipe.domain.enums import AssetSource, AssetType, ClipStatus, JobStatus, ManifestStatus


def _enum(cls: type[Any], name: str) -> Enum:
    # Stored as plain strings with a CHECK constraint: portable across SQLite and PostgreSQL, and
    # adding a value later needs no ALTER TYPE.
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda e: [m.value for m in e],
    )


class Manifest(IdMixin, TimestampMixin, Base):
    __tablename__ = "manifests"

    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[ManifestStatus] = mapped_column(
        _enum(ManifestStatus, "manifest_status"), default=ManifestStatus.DRAFT
    )
    error: Mapped[str | None] = mapped_column(Text)
    contact_sheet: Mapped[str | None] = mapped_column(String(300))  # storage key
    upload_count: Mapped[int] = mapped_column(Integer, default=0)
    asset_count: Mapped[int] = mapped_column(Integer, default=0)
    stats: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    uploads: Mapped[list[Upload]] = relationship(
        back_populates="manifest", cascade="all, delete-orphan", order_by="Upload.sort_order"
    )
    assets: Mapped[list[Asset]] = relationship(
        back_populates="manifest", cascade="all, delete-orphan", order_by="Asset.sort_order"
    )
    decisions: Mapped[list[AssetDecision]] = relationship(cascade="all, delete-orphan", passive_deletes=True)
    dismissed: Mapped[list[DismissedView]] = relationship(cascade="all, delete-orphan", passive_deletes=True)


class Upload(IdMixin, TimestampMixin, Base):
    """A source photo the user brought, with the name and type they gave it."""

    __tablename__ = "uploads"
    __table_args__ = (UniqueConstraint("manifest_id", "sha256"),)

    manifest_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("manifests.id", ondelete="CASCADE"), index=True)
    storage_key: Mapped[str] = mapped_column(String(300))
    original_filename: Mapped[str] = mapped_column(String(300))
    name: Mapped[str] = mapped_column(String(200))
    asset_type: Mapped[AssetType] = mapped_column(_enum(AssetType, "asset_type"))
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)

    manifest: Mapped[Manifest] = relationship(back_populates="uploads")


class Asset(IdMixin, TimestampMixin, Base):
    """A registry entry: one character, prop, place... with several reference images."""

    __tablename__ = "assets"
    __table_args__ = (UniqueConstraint("manifest_id", "manifest_tag"),)

    manifest_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("manifests.id", ondelete="CASCADE"), index=True)
    asset_type: Mapped[AssetType] = mapped_column(_enum(AssetType, "asset_type"))
    name: Mapped[str] = mapped_column(String(200))
    manifest_tag: Mapped[str | None] = mapped_column(String(32))  # CHAR_01...; set by the tagging step
    user_tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    # What a run found about the asset beyond its views: {"wardrobe": ["tie", ...]} for a character.
    attributes: Mapped[dict[str, list[str]] | None] = mapped_column(JSON)
    description: Mapped[str | None] = mapped_column(Text)
    reverse_prompt: Mapped[str | None] = mapped_column(Text)
    visual_description: Mapped[str | None] = mapped_column(Text)
    quality_score: Mapped[float | None] = mapped_column(Float)
    suggested_name: Mapped[str | None] = mapped_column(String(200))
    # Who wrote the description: provider ("gemini", "openai", "offline"), model, prompt version and
    # the tokens the provider reported; or why no description could be written.
    describe_provider: Mapped[str | None] = mapped_column(String(32))
    describe_model: Mapped[str | None] = mapped_column(String(120))
    describe_prompt_version: Mapped[str | None] = mapped_column(String(32))
    describe_input_tokens: Mapped[int | None] = mapped_column(Integer)
    describe_output_tokens: Mapped[int | None] = mapped_column(Integer)
    describe_error: Mapped[str | None] = mapped_column(Text)
    source: Mapped[AssetSource] = mapped_column(_enum(AssetSource, "asset_source"), default=AssetSource.UPLOADED)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    detection_class: Mapped[str | None] = mapped_column(String(64))
    detection_confidence: Mapped[float | None] = mapped_column(Float)
    is_face_crop: Mapped[bool] = mapped_column(Boolean, default=False)
    upload_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("uploads.id", ondelete="SET NULL"))
    primary_reference_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("asset_references.id", ondelete="SET NULL", use_alter=True)
    )

    manifest: Mapped[Manifest] = relationship(back_populates="assets")
    references: Mapped[list[AssetReference]] = relationship(
        back_populates="asset",
        cascade="all, delete-orphan",
        order_by="AssetReference.sort_order",
        foreign_keys="AssetReference.asset_id",
    )
    primary_reference: Mapped[AssetReference | None] = relationship(
        foreign_keys=[primary_reference_id], post_update=True
    )


class AssetReference(IdMixin, TimestampMixin, Base):
    """One view of an asset: a crop of an upload (later also of a video frame), with its embeddings."""

    __tablename__ = "asset_references"

    asset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    upload_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("uploads.id", ondelete="SET NULL"))
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    bbox: Mapped[list[float] | None] = mapped_column(JSON)  # x1, y1, x2, y2 in source pixels
    image_key: Mapped[str] = mapped_column(String(300))
    thumbnail_key: Mapped[str | None] = mapped_column(String(300))
    face_embedding: Mapped[bytes | None] = mapped_column(LargeBinary)  # float32 little-endian
    face_embedding_model: Mapped[str | None] = mapped_column(String(100))
    image_embedding: Mapped[bytes | None] = mapped_column(LargeBinary)
    image_embedding_model: Mapped[str | None] = mapped_column(String(100))
    quality_score: Mapped[float | None] = mapped_column(Float)
    frame_time_seconds: Mapped[float | None] = mapped_column(Float)
    # "upload" (cut from a photo by a run), "user" (given by the user), "generated" (from a clip).
    origin: Mapped[str] = mapped_column(String(16), default="upload")
    clip_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("clips.id", ondelete="SET NULL"))

    asset: Mapped[Asset] = relationship(back_populates="references", foreign_keys=[asset_id])


class Job(IdMixin, TimestampMixin, Base):
    """A background run: the row is the truth about it (status, progress, heartbeat, attempts, cancel
    flag), readable and steerable from any process; a queue only ever carries its id."""

    __tablename__ = "jobs"

    kind: Mapped[str] = mapped_column(String(64))  # "manifest.process", ...
    target_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    status: Mapped[JobStatus] = mapped_column(_enum(JobStatus, "job_status"), default=JobStatus.QUEUED, index=True)
    # What the run was asked for (reprocess, describers...), so that a retry after a crash does the same.
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Which process holds the job now; a heartbeat or result from any other holder is ignored.
    owner: Mapped[str | None] = mapped_column(String(120))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    current_step: Mapped[str | None] = mapped_column(String(64))
    progress: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    # The latest views the run has cut so far ({"kind", "label", "thumbnail"}), shown while it runs.
    found: Mapped[list[dict[str, str]] | None] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text)
    # What a job hands on when it succeeds (a part of a split run: its photos' record keys).
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AssetDecision(IdMixin, TimestampMixin, Base):
    """A user's correction to the grouping: two views are (or are not) the same asset.

    A view is named by the upload it was cut from and its box there, not by a reference row, because
    a re-run rebuilds the references; the run finds each view again by overlap and obeys the decision.
    """

    __tablename__ = "asset_decisions"

    manifest_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("manifests.id", ondelete="CASCADE"), index=True)
    same: Mapped[bool] = mapped_column(Boolean)
    upload_a_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("uploads.id", ondelete="CASCADE"))
    bbox_a: Mapped[list[float]] = mapped_column(JSON)
    upload_b_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("uploads.id", ondelete="CASCADE"))
    bbox_b: Mapped[list[float]] = mapped_column(JSON)


class DismissedView(IdMixin, TimestampMixin, Base):
    """A view whose extracted asset the user deleted: later runs make no asset of it again.

    Named, like a decision's views, by upload and box; a run finds it among its crops by overlap.
    """

    __tablename__ = "dismissed_views"

    manifest_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("manifests.id", ondelete="CASCADE"), index=True)
    upload_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("uploads.id", ondelete="CASCADE"))
    bbox: Mapped[list[float]] = mapped_column(JSON)


class ChosenPrimary(IdMixin, TimestampMixin, Base):
    """A view cut from a photo that the user made its asset's primary reference.

    Named, like a decision's views, by upload and box, because a re-run rebuilds those references;
    the run finds the view again by overlap and puts it first.
    """

    __tablename__ = "chosen_primaries"

    manifest_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("manifests.id", ondelete="CASCADE"), index=True)
    upload_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("uploads.id", ondelete="CASCADE"))
    bbox: Mapped[list[float]] = mapped_column(JSON)


class Project(IdMixin, TimestampMixin, Base):
    """A film being made: its scenes are checked against one manifest's registry."""

    __tablename__ = "projects"

    name: Mapped[str] = mapped_column(String(200))
    manifest_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("manifests.id"), index=True)

    scenes: Mapped[list[Scene]] = relationship(
        back_populates="project", cascade="all, delete-orphan", passive_deletes=True, order_by="Scene.index"
    )


class Scene(IdMixin, TimestampMixin, Base):
    __tablename__ = "scenes"
    __table_args__ = (UniqueConstraint("project_id", "index"),)

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text)
    expected_tags: Mapped[list[str]] = mapped_column(JSON, default=list)

    project: Mapped[Project] = relationship(back_populates="scenes")
    clips: Mapped[list[Clip]] = relationship(
        back_populates="scene", cascade="all, delete-orphan", passive_deletes=True, order_by="Clip.created_at"
    )


class Clip(IdMixin, TimestampMixin, Base):
    """A generated clip of a scene, kept in the file store by content hash."""

    __tablename__ = "clips"

    scene_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("scenes.id", ondelete="CASCADE"), index=True)
    storage_key: Mapped[str] = mapped_column(String(300))
    original_filename: Mapped[str] = mapped_column(String(300))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    fps: Mapped[float | None] = mapped_column(Float)
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    codec: Mapped[str | None] = mapped_column(String(40))
    # NEW, ANALYZING, ANALYZED or ERROR: the state of its (latest) analysis.
    status: Mapped[str] = mapped_column(String(16), default=ClipStatus.NEW)
    error: Mapped[str | None] = mapped_column(Text)

    scene: Mapped[Scene] = relationship(back_populates="clips")
    analyses: Mapped[list[ClipAnalysis]] = relationship(
        back_populates="clip", cascade="all, delete-orphan", passive_deletes=True
    )


class ClipAnalysis(IdMixin, TimestampMixin, Base):
    """The result of analysing a clip against its project's registry (the latest one is kept)."""

    __tablename__ = "clip_analyses"

    clip_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clips.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # Per sampled frame: time, file keys, what was found, expected vs found, unexpected people.
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    continuity_score: Mapped[float] = mapped_column(Float)
    gate: Mapped[str] = mapped_column(String(8))  # "pass" or "fail"
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    seconds: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    # The sampled frames' image embeddings (N×D float32, in frame order), kept when the image model
    # has a text tower (CLIP): words can then find frames.
    frame_embedding_model: Mapped[str | None] = mapped_column(String(100))
    frame_embeddings: Mapped[bytes | None] = mapped_column(LargeBinary)

    clip: Mapped[Clip] = relationship(back_populates="analyses")


class AssetAppearance(IdMixin, TimestampMixin, Base):
    """One sighting of a registry asset in a sampled frame of a clip."""

    __tablename__ = "asset_appearances"

    asset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    scene_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("scenes.id", ondelete="CASCADE"))
    clip_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clips.id", ondelete="CASCADE"), index=True)
    analysis_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clip_analyses.id", ondelete="CASCADE"), index=True)
    frame_index: Mapped[int] = mapped_column(Integer)
    timestamp_seconds: Mapped[float] = mapped_column(Float)
    bbox: Mapped[list[float]] = mapped_column(JSON)
    confidence: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(16))  # "yolo", "face_match" or "clip_match"
    reference_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("asset_references.id", ondelete="SET NULL"))
    similarity: Mapped[float | None] = mapped_column(Float)
