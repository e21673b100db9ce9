"""What services return: plain frozen dataclasses read out of the database inside the service, so
that shells never touch ORM rows or sessions."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from vidpipe.db.models import (
    Asset,
    AssetAppearance,
    AssetReference,
    Clip,
    ClipAnalysis,
    Job,
    Manifest,
    Project,
    Scene,
    Upload,
)
from vidpipe.domain.enums import ACTIVE_JOB_STATUSES, AssetSource, AssetType, JobStatus, ManifestStatus
from vidpipe.pipeline.run_stats import RunStats


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; they were written in UTC.
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


@dataclass(frozen=True)
class FoundView:
    """A view a run has cut so far (a face, or a detected object), shown while the run goes on."""

    kind: str  # "face" or "object"
    label: str  # the photo's name for a face, the detector's class for an object
    thumbnail: str  # file key


@dataclass(frozen=True)
class JobView:
    id: uuid.UUID
    kind: str
    target_id: uuid.UUID | None
    status: JobStatus
    step: str | None
    progress: dict[str, int]
    found: tuple[FoundView, ...]
    attempts: int
    error: str | None
    cancel_requested: bool
    params: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    owner: str | None = None  # the process holding it: host:pid:random

    @classmethod
    def of(cls, job: Job) -> JobView:
        created = _aware(job.created_at)
        assert created is not None
        return cls(
            id=job.id,
            kind=job.kind,
            target_id=job.target_id,
            status=job.status,
            step=job.current_step,
            progress=dict(job.progress or {}),
            found=tuple(FoundView(**f) for f in job.found or ()),
            attempts=job.attempts,
            error=job.error,
            cancel_requested=job.cancel_requested,
            params=dict(job.params or {}),
            created_at=created,
            started_at=_aware(job.started_at),
            finished_at=_aware(job.finished_at),
            heartbeat_at=_aware(job.heartbeat_at),
            owner=job.owner,
        )

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_JOB_STATUSES

    def heartbeat_age_seconds(self, now: datetime | None = None) -> float | None:
        if self.heartbeat_at is None:
            return None
        return max(0.0, ((now or datetime.now(UTC)) - self.heartbeat_at).total_seconds())

    def to_json(self) -> dict[str, Any]:
        # A finished job's last heartbeat says nothing about it now.
        age = self.heartbeat_age_seconds() if self.active else None
        return {
            "id": str(self.id),
            "kind": self.kind,
            "target_id": str(self.target_id) if self.target_id else None,
            "status": self.status.value,
            "step": self.step,
            "progress": self.progress,
            "attempts": self.attempts,
            "error": self.error,
            "cancel_requested": self.cancel_requested,
            "params": self.params,
            "heartbeat_age_seconds": round(age, 1) if age is not None else None,
            "created_at": self.created_at.isoformat(),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


@dataclass(frozen=True)
class UploadView:
    id: uuid.UUID
    position: int
    name: str
    original_filename: str
    asset_type: AssetType
    width: int
    height: int
    size_bytes: int
    storage_key: str

    @classmethod
    def of(cls, upload: Upload, position: int) -> UploadView:
        return cls(
            upload.id,
            position,
            upload.name,
            upload.original_filename,
            upload.asset_type,
            upload.width,
            upload.height,
            upload.size_bytes,
            upload.storage_key,
        )


@dataclass(frozen=True)
class ReferenceView:
    id: uuid.UUID
    position: int  # 1-based, as `manifest split` takes it
    source: str  # the upload's name, "user reference" or "generated (clip name at 1.5 s)"
    origin: str  # "upload", "user" or "generated"
    clip_id: uuid.UUID | None
    bbox: tuple[float, ...] | None
    has_face: bool
    quality_score: float | None
    primary: bool
    image_key: str
    thumbnail_key: str | None


@dataclass(frozen=True)
class AssetView:
    id: uuid.UUID
    tag: str | None
    asset_type: AssetType
    name: str
    source: AssetSource
    user_tags: tuple[str, ...]
    quality_score: float | None
    detection_class: str | None
    detection_confidence: float | None
    describe_provider: str | None
    describe_model: str | None
    describe_error: str | None
    input_tokens: int | None
    output_tokens: int | None
    reverse_prompt: str | None
    visual_description: str | None
    references: tuple[ReferenceView, ...]

    @classmethod
    def of(cls, asset: Asset, upload_names: dict[uuid.UUID, str]) -> AssetView:
        return cls(
            id=asset.id,
            tag=asset.manifest_tag,
            asset_type=asset.asset_type,
            name=asset.name,
            source=asset.source,
            user_tags=tuple(asset.user_tags or ()),
            quality_score=asset.quality_score,
            detection_class=asset.detection_class,
            detection_confidence=asset.detection_confidence,
            describe_provider=asset.describe_provider,
            describe_model=asset.describe_model,
            describe_error=asset.describe_error,
            input_tokens=asset.describe_input_tokens,
            output_tokens=asset.describe_output_tokens,
            reverse_prompt=asset.reverse_prompt,
            visual_description=asset.visual_description,
            references=tuple(
                ReferenceView(
                    id=r.id,
                    position=n,
                    source=_reference_source(r, upload_names),
                    origin=r.origin,
                    clip_id=r.clip_id,
                    bbox=tuple(r.bbox) if r.bbox else None,
                    has_face=r.face_embedding is not None,
                    quality_score=r.quality_score,
                    primary=r.id == asset.primary_reference_id,
                    image_key=r.image_key,
                    thumbnail_key=r.thumbnail_key,
                )
                for n, r in enumerate(asset.references, 1)
            ),
        )


@dataclass(frozen=True)
class ManifestSummary:
    id: uuid.UUID
    name: str
    status: ManifestStatus
    error: str | None
    upload_count: int
    asset_count: int
    created_at: datetime
    processed_at: datetime | None

    @classmethod
    def of(cls, manifest: Manifest) -> ManifestSummary:
        created = _aware(manifest.created_at)
        assert created is not None
        return cls(
            manifest.id,
            manifest.name,
            manifest.status,
            manifest.error,
            manifest.upload_count,
            manifest.asset_count,
            created,
            _aware(manifest.processed_at),
        )


@dataclass(frozen=True)
class ManifestView:
    summary: ManifestSummary
    contact_sheet_key: str | None
    stats: RunStats | None
    uploads: tuple[UploadView, ...]
    assets: tuple[AssetView, ...]
    job: JobView | None  # the job that may still change it, else the latest one

    @classmethod
    def of(cls, manifest: Manifest, job: Job | None) -> ManifestView:
        names = {u.id: u.name for u in manifest.uploads}
        return cls(
            summary=ManifestSummary.of(manifest),
            contact_sheet_key=manifest.contact_sheet,
            stats=RunStats.model_validate(manifest.stats) if manifest.stats else None,
            uploads=tuple(UploadView.of(u, n) for n, u in enumerate(manifest.uploads, 1)),
            assets=tuple(AssetView.of(a, names) for a in manifest.assets),
            job=JobView.of(job) if job is not None else None,
        )


@dataclass(frozen=True)
class PhotoNote:
    """A photo that was not added: refused (with the reason) or already there (a duplicate)."""

    path: str
    reason: str
    duplicate: bool = False
    status: int = 422


@dataclass(frozen=True)
class IntakeResult:
    manifest: ManifestSummary
    added: tuple[UploadView, ...]
    refused: tuple[PhotoNote, ...] = field(default=())
    duplicates: tuple[PhotoNote, ...] = field(default=())


def _reference_source(ref: AssetReference, upload_names: dict[uuid.UUID, str]) -> str:
    if ref.upload_id is not None:
        return upload_names.get(ref.upload_id, "-")
    if ref.origin == "generated":
        at = f" at {ref.frame_time_seconds:.1f} s" if ref.frame_time_seconds is not None else ""
        return f"generated (from a clip{at})"
    return "user reference"


@dataclass(frozen=True)
class AnalysisSummary:
    id: uuid.UUID
    continuity_score: float
    gate: str
    reasons: tuple[str, ...]
    created_at: datetime

    @classmethod
    def of(cls, analysis: ClipAnalysis) -> AnalysisSummary:
        created = _aware(analysis.created_at)
        assert created is not None
        return cls(analysis.id, analysis.continuity_score, analysis.gate, tuple(analysis.reasons or ()), created)


@dataclass(frozen=True)
class AnalysisView:
    """A clip's analysis in full: the per-frame record, the verdict, its settings and timings."""

    summary: AnalysisSummary
    clip_id: uuid.UUID
    job_id: uuid.UUID | None
    record: dict[str, Any]
    settings: dict[str, Any]
    seconds: dict[str, float]

    @classmethod
    def of(cls, analysis: ClipAnalysis) -> AnalysisView:
        return cls(
            AnalysisSummary.of(analysis),
            analysis.clip_id,
            analysis.job_id,
            dict(analysis.record or {}),
            dict(analysis.settings or {}),
            dict(analysis.seconds or {}),
        )


@dataclass(frozen=True)
class ClipView:
    id: uuid.UUID
    scene_id: uuid.UUID
    filename: str
    storage_key: str
    size_bytes: int
    width: int
    height: int
    fps: float | None
    duration_seconds: float | None
    codec: str | None
    status: str  # NEW, ANALYZING, ANALYZED or ERROR
    error: str | None
    created_at: datetime
    analysis: AnalysisSummary | None

    @classmethod
    def of(cls, clip: Clip, analysis: ClipAnalysis | None) -> ClipView:
        created = _aware(clip.created_at)
        assert created is not None
        return cls(
            clip.id, clip.scene_id, clip.original_filename, clip.storage_key, clip.size_bytes, clip.width,
            clip.height, clip.fps, clip.duration_seconds, clip.codec, clip.status, clip.error, created,
            AnalysisSummary.of(analysis) if analysis is not None else None,
        )  # fmt: skip


@dataclass(frozen=True)
class SceneView:
    id: uuid.UUID
    project_id: uuid.UUID
    index: int
    description: str | None
    expected_tags: tuple[str, ...]
    clips: tuple[ClipView, ...]

    @classmethod
    def of(cls, scene: Scene) -> SceneView:
        def latest(clip: Clip) -> ClipAnalysis | None:
            return max(clip.analyses, key=lambda a: a.created_at, default=None)

        return cls(
            scene.id,
            scene.project_id,
            scene.index,
            scene.description,
            tuple(scene.expected_tags or ()),
            tuple(ClipView.of(c, latest(c)) for c in scene.clips),
        )


@dataclass(frozen=True)
class ProjectView:
    id: uuid.UUID
    name: str
    manifest_id: uuid.UUID
    manifest_name: str
    created_at: datetime
    scenes: tuple[SceneView, ...]

    @classmethod
    def of(cls, project: Project, manifest_name: str) -> ProjectView:
        created = _aware(project.created_at)
        assert created is not None
        return cls(
            project.id,
            project.name,
            project.manifest_id,
            manifest_name,
            created,
            tuple(SceneView.of(s) for s in project.scenes),
        )


@dataclass(frozen=True)
class AppearanceView:
    asset_id: uuid.UUID
    project_id: uuid.UUID
    scene_id: uuid.UUID
    clip_id: uuid.UUID
    frame_index: int
    seconds: float
    bbox: tuple[float, ...]
    confidence: float
    source: str
    similarity: float | None
    reference_id: uuid.UUID | None

    @classmethod
    def of(cls, row: AssetAppearance) -> AppearanceView:
        return cls(
            row.asset_id, row.project_id, row.scene_id, row.clip_id, row.frame_index, row.timestamp_seconds,
            tuple(row.bbox), row.confidence, row.source, row.similarity, row.reference_id,
        )  # fmt: skip
