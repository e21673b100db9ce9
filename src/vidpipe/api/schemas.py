"""What the API answers, as pydantic models built from the services' views (OpenAPI at /docs)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from vidpipe.services.runs import ProgressView
from vidpipe.services.views import (
    AnalysisView,
    AppearanceView,
    AssetView,
    ClipView,
    JobView,
    ManifestSummary,
    ProjectView,
    SceneView,
    UploadView,
)


class ErrorOut(BaseModel):
    error: str
    detail: str | None = None


class ManifestOut(BaseModel):
    id: uuid.UUID
    name: str
    status: str
    error: str | None
    upload_count: int
    asset_count: int
    created_at: datetime
    processed_at: datetime | None

    @classmethod
    def of(cls, m: ManifestSummary) -> ManifestOut:
        return cls(
            id=m.id,
            name=m.name,
            status=m.status.value,
            error=m.error,
            upload_count=m.upload_count,
            asset_count=m.asset_count,
            created_at=m.created_at,
            processed_at=m.processed_at,
        )


class ManifestPage(BaseModel):
    items: list[ManifestOut]
    total: int
    limit: int
    offset: int


class ManifestCreate(BaseModel):
    name: str


class ManifestRename(BaseModel):
    name: str


class UploadOut(BaseModel):
    id: uuid.UUID
    position: int
    name: str
    filename: str
    type: str
    width: int
    height: int
    url: str

    @classmethod
    def of(cls, u: UploadView, url: str) -> UploadOut:
        return cls(
            id=u.id,
            position=u.position,
            name=u.name,
            filename=u.original_filename,
            type=u.asset_type.value,
            width=u.width,
            height=u.height,
            url=url,
        )


class UploadResult(BaseModel):
    file: str
    outcome: str = Field(description="accepted, duplicate or refused")
    reason: str | None = Field(None, description="Why a file was refused, or what it duplicates")
    upload_id: uuid.UUID | None = None
    type: str | None = Field(None, description="The accepted photo's type, given or guessed")
    note: str | None = Field(None, description="Set when the type was left out: what was guessed and why")


class UploadAnswer(BaseModel):
    manifest: ManifestOut
    files: list[UploadResult]


class JobOut(BaseModel):
    id: uuid.UUID
    kind: str
    target_id: uuid.UUID | None
    status: str
    step: str | None
    progress: dict[str, int]
    attempts: int
    error: str | None
    cancel_requested: bool
    heartbeat_age_seconds: float | None
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, j: JobView) -> JobOut:
        data: dict[str, Any] = j.to_json()
        return cls(
            id=j.id,
            kind=j.kind,
            target_id=j.target_id,
            status=j.status.value,
            step=j.step,
            progress=j.progress,
            attempts=j.attempts,
            error=j.error,
            cancel_requested=j.cancel_requested,
            heartbeat_age_seconds=data["heartbeat_age_seconds"],
            started_at=j.started_at,
            finished_at=j.finished_at,
        )


class Accepted(BaseModel):
    job_id: uuid.UUID
    status_url: str
    progress_url: str


class StepOut(BaseModel):
    name: str
    state: str
    seconds: float | None


class FoundOut(BaseModel):
    kind: str = Field(description="face or object")
    label: str = Field(description="The photo's name for a face, the detected class for an object")
    thumbnail_url: str


class ProgressOut(BaseModel):
    manifest_id: uuid.UUID
    status: str
    step: str | None
    uploads_total: int
    uploads_processed: int
    crops_total: int
    assets_described: int
    assets_total: int
    steps: list[StepOut]
    found: list[FoundOut] = Field(description="The newest faces and objects the run has cut out, oldest first")
    error: str | None
    job_id: uuid.UUID | None
    job_status: str | None

    @property
    def finished(self) -> bool:
        """READY or ERROR, with no run queued or running that would change it again."""
        return self.status in ("READY", "ERROR") and self.job_status not in ("QUEUED", "RUNNING")

    @classmethod
    def of(cls, p: ProgressView) -> ProgressOut:
        c = p.counters
        return cls(
            manifest_id=p.manifest_id,
            status=p.status.value,
            step=p.step,
            uploads_total=c.get("uploads_total", 0),
            uploads_processed=c.get("uploads_processed", 0),
            crops_total=c.get("crops_total", 0),
            assets_described=c.get("crops_described", 0),
            assets_total=c.get("describe_total", 0),
            steps=[StepOut(name=s.name, state=s.state, seconds=s.seconds) for s in p.steps],
            found=[
                FoundOut(kind=f.kind, label=f.label, thumbnail_url=f"/files/{f.thumbnail}")
                for f in (p.job.found if p.job else ())
            ],
            error=p.error,
            job_id=p.job.id if p.job else None,
            job_status=p.job.status.value if p.job else None,
        )


class ReferenceOut(BaseModel):
    id: uuid.UUID
    position: int
    source: str
    origin: str = Field(description="upload (cut from a photo), user (given by the user) or generated (from a clip)")
    clip_id: uuid.UUID | None
    bbox: list[float] | None
    has_face: bool
    quality_score: float | None
    primary: bool
    image_url: str
    thumbnail_url: str | None


class AssetOut(BaseModel):
    id: uuid.UUID
    manifest_tag: str | None
    type: str
    name: str
    source: str
    user_tags: list[str]
    quality_score: float | None
    detection_class: str | None
    reverse_prompt: str | None
    visual_description: str | None
    described_by: str | None
    describe_error: str | None
    references: list[ReferenceOut]

    @classmethod
    def of(cls, a: AssetView, file_url: Any) -> AssetOut:
        return cls(
            id=a.id,
            manifest_tag=a.tag,
            type=a.asset_type.value,
            name=a.name,
            source=a.source.value,
            user_tags=list(a.user_tags),
            quality_score=a.quality_score,
            detection_class=a.detection_class,
            reverse_prompt=a.reverse_prompt,
            visual_description=a.visual_description,
            described_by=f"{a.describe_provider} ({a.describe_model})" if a.describe_provider else None,
            describe_error=a.describe_error,
            references=[
                ReferenceOut(
                    id=r.id,
                    origin=r.origin,
                    clip_id=r.clip_id,
                    position=r.position,
                    source=r.source,
                    bbox=list(r.bbox) if r.bbox else None,
                    has_face=r.has_face,
                    quality_score=r.quality_score,
                    primary=r.primary,
                    image_url=file_url(r.image_key),
                    thumbnail_url=file_url(r.thumbnail_key) if r.thumbnail_key else None,
                )
                for r in a.references
            ],
        )


class HealthOut(BaseModel):
    status: str  # "ok", or "unavailable" (with a 503) when a part it needs is down
    version: str
    database: str
    database_ok: bool = True
    jobs_backend: str = "embedded"
    broker: dict[str, Any] | None = None
    problems: list[str] = []
    notes: list[str] = []


class AssetEdit(BaseModel):
    name: str | None = None
    user_tags: list[str] | None = None
    reverse_prompt: str | None = None
    visual_description: str | None = None


class MergeIn(BaseModel):
    keep: str  # tag or id
    others: list[str]
    force: bool = False


class MergeOut(BaseModel):
    kept: str
    merged: list[str]
    references_moved: int


class SplitIn(BaseModel):
    positions: list[int]
    name: str | None = None


class SplitOut(BaseModel):
    source: str
    new_tag: str
    new_asset_id: uuid.UUID
    references_moved: int
    describe_error: str | None


class SwapOut(BaseModel):
    asset: AssetOut
    warnings: list[str]
    similarity: float | None


class ReferenceChoice(BaseModel):
    reference_id: uuid.UUID = Field(description="One of the asset's own references")


class HitOut(BaseModel):
    asset: AssetOut
    score: float


class ProjectIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    manifest_id: str = Field(description="The manifest whose registry the project's scenes are checked against")


class SceneIn(BaseModel):
    index: int = Field(ge=0, le=100_000, description="The scene's number in the project")
    description: str | None = Field(None, max_length=5000)
    expect: list[str] = Field(default_factory=list, description="Asset tags the scene should show, e.g. CHAR_01")


class SceneEdit(BaseModel):
    description: str | None = Field(None, max_length=5000)
    expect: list[str] | None = Field(None, description="New expected tags (an empty list: none)")


class AnalyzeIn(BaseModel):
    expect: list[str] | None = Field(None, description="Expected tags for this analysis; default: the scene's")


class AnalysisSummaryOut(BaseModel):
    id: uuid.UUID
    continuity_score: float
    gate: str
    reasons: list[str]
    created_at: datetime


class ClipOut(BaseModel):
    id: uuid.UUID
    scene_id: uuid.UUID
    filename: str
    url: str
    size_bytes: int
    width: int
    height: int
    fps: float | None
    duration_seconds: float | None
    codec: str | None
    status: str = Field(description="NEW, ANALYZING, ANALYZED or ERROR")
    error: str | None
    analysis: AnalysisSummaryOut | None

    @classmethod
    def of(cls, c: ClipView) -> ClipOut:
        a = c.analysis
        return cls(
            id=c.id,
            scene_id=c.scene_id,
            filename=c.filename,
            url=f"/files/{c.storage_key}",
            size_bytes=c.size_bytes,
            width=c.width,
            height=c.height,
            fps=c.fps,
            duration_seconds=c.duration_seconds,
            codec=c.codec,
            status=c.status,
            error=c.error,
            analysis=AnalysisSummaryOut(
                id=a.id,
                continuity_score=a.continuity_score,
                gate=a.gate,
                reasons=list(a.reasons),
                created_at=a.created_at,
            )
            if a
            else None,
        )


class SceneOut(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    index: int
    description: str | None
    expected_tags: list[str]
    clips: list[ClipOut]

    @classmethod
    def of(cls, s: SceneView) -> SceneOut:
        return cls(
            id=s.id,
            project_id=s.project_id,
            index=s.index,
            description=s.description,
            expected_tags=list(s.expected_tags),
            clips=[ClipOut.of(c) for c in s.clips],
        )


class ProjectOut(BaseModel):
    id: uuid.UUID
    name: str
    manifest_id: uuid.UUID
    manifest_name: str
    created_at: datetime
    scenes: list[SceneOut]

    @classmethod
    def of(cls, p: ProjectView) -> ProjectOut:
        return cls(
            id=p.id,
            name=p.name,
            manifest_id=p.manifest_id,
            manifest_name=p.manifest_name,
            created_at=p.created_at,
            scenes=[SceneOut.of(s) for s in p.scenes],
        )


class AnalysisOut(BaseModel):
    id: uuid.UUID
    clip_id: uuid.UUID
    continuity_score: float = Field(description="0-10; see the README for its definition")
    gate: str = Field(description="pass or fail")
    reasons: list[str]
    record: dict[str, Any] = Field(
        description="Per sampled frame: what was found, expected vs found, unexpected people"
    )
    settings: dict[str, Any]
    seconds: dict[str, float]
    created_at: datetime

    @classmethod
    def of(cls, a: AnalysisView) -> AnalysisOut:
        return cls(
            id=a.summary.id,
            clip_id=a.clip_id,
            continuity_score=a.summary.continuity_score,
            gate=a.summary.gate,
            reasons=list(a.summary.reasons),
            record=a.record,
            settings=a.settings,
            seconds=a.seconds,
            created_at=a.summary.created_at,
        )


class AnalysisAccepted(BaseModel):
    job_id: uuid.UUID
    status_url: str
    clip_url: str


class AppearanceOut(BaseModel):
    project_id: uuid.UUID
    scene_id: uuid.UUID
    clip_id: uuid.UUID
    frame_index: int
    seconds: float
    bbox: list[float]
    confidence: float
    source: str = Field(description="face_match, clip_match or yolo (class only)")
    similarity: float | None
    reference_id: uuid.UUID | None

    @classmethod
    def of(cls, a: AppearanceView) -> AppearanceOut:
        return cls(
            project_id=a.project_id,
            scene_id=a.scene_id,
            clip_id=a.clip_id,
            frame_index=a.frame_index,
            seconds=a.seconds,
            bbox=list(a.bbox),
            confidence=a.confidence,
            source=a.source,
            similarity=a.similarity,
            reference_id=a.reference_id,
        )


class FrameHitOut(BaseModel):
    clip_id: uuid.UUID
    clip: str
    scene_index: int
    frame_index: int
    seconds: float
    thumbnail_url: str
    score: float = Field(description="Cosine between the words and the frame, on the CLIP model's scale")
