"""The clip analysis run: sample a clip's frames, find the registry's assets in them, score the
clip's continuity, and (when it passes the gate) add its best new views to the registry.

Steps: sample → match → score → write. Only the write step touches the database, in one
transaction with the job's success, so a failed or cancelled run leaves nothing half-written.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from vidpipe.db.models import Asset, AssetAppearance, AssetReference, Clip, ClipAnalysis, Manifest, Project, Scene
from vidpipe.domain.enums import AssetType, ClipStatus, ManifestStatus
from vidpipe.errors import ConflictError, NotFoundError
from vidpipe.inference.vectors import embedding_from_bytes, embedding_to_bytes
from vidpipe.pipeline.clip_matching import (
    FrameFindings,
    KnownAsset,
    KnownReference,
    Sighting,
    Thresholds,
    match_frame,
)
from vidpipe.pipeline.continuity import Verdict, score_clip
from vidpipe.pipeline.manifesting import RunTracker
from vidpipe.pipeline.toolkit import VisionToolkit
from vidpipe.settings import CVAnalysisSettings
from vidpipe.storage import Store
from vidpipe.video.decoding import ClipError, ClipLimits
from vidpipe.video.sampling import SampledFrame, SamplingResult, sample_clip

# A new view is "confident" at this share of the way from the model's threshold to identical, and
# a near-duplicate of a view the asset has (or was just given) at this share.
ENRICH_CONFIDENT = 0.5
ENRICH_DUPLICATE = 0.9


@dataclass(frozen=True)
class Target:
    """What the run reads before it starts: the clip, where it belongs, and the registry snapshot."""

    clip_id: uuid.UUID
    clip_key: str
    clip_name: str
    project_id: uuid.UUID
    scene_id: uuid.UUID
    expected: tuple[str, ...]
    assets: list[KnownAsset]


@dataclass(frozen=True)
class AnalysisOutcome:
    analysis_id: uuid.UUID
    verdict: Verdict
    appearances: int
    enriched: int
    seconds: dict[str, float]


def limits_of(settings: CVAnalysisSettings, max_bytes: int) -> ClipLimits:
    return ClipLimits(
        max_pixels=settings.max_clip_pixels, max_duration_seconds=settings.max_clip_seconds, max_bytes=max_bytes
    )


class ClipAnalysisRunner:
    def __init__(
        self,
        factory: sessionmaker[Session],
        store: Store,
        toolkit: VisionToolkit,
        settings: CVAnalysisSettings,
        max_bytes: int,
    ) -> None:
        self.factory = factory
        self.store = store
        self.toolkit = toolkit
        self.settings = settings
        self.max_bytes = max_bytes
        self.failed_step = "prepare"

    def thresholds(self) -> Thresholds:
        return Thresholds(
            face=self.settings.effective_face_threshold(self.toolkit.faces.threshold),
            image=self.settings.effective_image_threshold(self.toolkit.embedder.same_object_threshold),
        )

    def run(self, clip_id: uuid.UUID, params: dict[str, Any], tracker: RunTracker) -> AnalysisOutcome:
        seconds: dict[str, float] = {}
        target = self._target(clip_id, params.get("expect"))
        tracker.set(frames_total=0, frames_done=0)

        self.failed_step = "sample"
        tracker.begin("sample")
        start = time.perf_counter()
        try:
            # The decoder wants a path: the stored file itself, or a download of it from an object store.
            with self.store.local_copy(target.clip_key) as clip_path:
                sampled = sample_clip(
                    clip_path,
                    motion_delta_threshold=self.settings.motion_delta_threshold,
                    max_frames=self.settings.max_frames_per_clip,
                    max_side=self.settings.frame_max_side,
                    limits=limits_of(self.settings, self.max_bytes),
                )
        except ClipError as exc:
            raise ClipError(target.clip_name, exc.reason) from None  # the user's name, not the stored one
        seconds["sample"] = time.perf_counter() - start
        tracker.set(frames_total=len(sampled.frames), decoded_frames=sampled.decoded_frames)

        self.failed_step = "match"
        tracker.begin("match")
        start = time.perf_counter()
        thresholds = self.thresholds()
        findings: list[FrameFindings] = []
        for n, frame in enumerate(sampled.frames, 1):
            findings.append(
                match_frame(self.toolkit, frame.image, frame.index, frame.seconds, target.assets, thresholds)
            )
            tracker.set(frames_done=n)
        seconds["match"] = time.perf_counter() - start

        self.failed_step = "score"
        tracker.begin("score")
        verdict = score_clip(
            findings,
            target.expected,
            thresholds,
            self.settings.quality_gate_threshold,
            duration=sampled.info.duration_seconds or (sampled.frames[-1].seconds if sampled.frames else None),
        )
        enrich = self._enrichment(findings, target.assets, thresholds) if verdict.gate == "pass" else []

        self.failed_step = "write"
        tracker.begin("write")
        start = time.perf_counter()
        outcome = self._write(target, sampled, findings, verdict, enrich, thresholds, seconds, tracker)
        seconds["write"] = time.perf_counter() - start
        self.failed_step = ""
        return outcome

    # ------------------------------------------------------------------------------ reading

    def _target(self, clip_id: uuid.UUID, expect: list[str] | None) -> Target:
        face_model = self.toolkit.faces.embedder.name
        image_model = self.toolkit.embedder.name
        with self.factory() as session:
            clip = session.get(Clip, clip_id)
            if clip is None:
                raise NotFoundError(f"no clip with id {clip_id}")
            scene = session.get(Scene, clip.scene_id)
            assert scene is not None
            project = session.get(Project, scene.project_id)
            assert project is not None
            manifest = session.get(Manifest, project.manifest_id)
            assert manifest is not None
            if manifest.status is not ManifestStatus.READY:
                state = manifest.status.value
                raise ConflictError(
                    f"manifest {manifest.name!r} is {state}; clips are analysed against a READY registry"
                )
            rows = session.scalars(
                select(Asset).where(Asset.manifest_id == manifest.id).options(selectinload(Asset.references))
            )
            assets = [known_asset(a, face_model, image_model) for a in rows if a.manifest_tag]
            expected = tuple(expect) if expect is not None else tuple(scene.expected_tags or ())
            return Target(clip.id, clip.storage_key, clip.original_filename, project.id, scene.id, expected, assets)

    # ----------------------------------------------------------------------------- enrichment

    def _enrichment(
        self, findings: list[FrameFindings], assets: list[KnownAsset], thresholds: Thresholds
    ) -> list[tuple[FrameFindings, Sighting]]:
        """The best new views per asset: confident, of good quality, unlike what the asset has."""
        by_id = {a.id: a for a in assets}
        chosen: list[tuple[FrameFindings, Sighting]] = []
        for asset_id, asset in by_id.items():
            faces = asset.asset_type is AssetType.CHARACTER
            threshold = thresholds.face if faces else thresholds.image
            confident = threshold + ENRICH_CONFIDENT * (1 - threshold)
            duplicate = threshold + ENRICH_DUPLICATE * (1 - threshold)
            candidates = [
                (frame, s)
                for frame in findings
                for s in frame.sightings
                if s.asset_id == asset_id
                and s.similarity is not None
                and s.similarity >= confident
                and s.quality >= self.settings.enrich_min_quality
            ]
            candidates.sort(key=lambda fs: -(fs[1].quality / 10 + (fs[1].similarity or 0.0)))
            known = [r.vector for r in (asset.face_refs if faces else asset.image_refs)]
            taken = 0
            for frame, sighting in candidates:
                if taken >= self.settings.enrich_per_asset:
                    break
                vector = sighting.face_vector if faces else sighting.image_vector
                if vector is None:
                    continue
                unit = vector / (np.linalg.norm(vector) + 1e-12)
                if known and float(np.max(np.stack(known) @ unit)) >= duplicate:
                    continue
                known.append(unit)
                chosen.append((frame, sighting))
                taken += 1
        return chosen

    # ---------------------------------------------------------------------------------- write

    def _write(
        self,
        target: Target,
        sampled: SamplingResult,
        findings: list[FrameFindings],
        verdict: Verdict,
        enrich: list[tuple[FrameFindings, Sighting]],
        thresholds: Thresholds,
        seconds: dict[str, float],
        tracker: RunTracker,
    ) -> AnalysisOutcome:
        # Files first (content-addressed: a repeat writes nothing new), then one transaction.
        frame_files = [self._store_frame(f) for f in sampled.frames]
        new_views = []
        for frame, sighting in enrich:
            image_vector = (
                sighting.image_vector
                if sighting.image_vector is not None
                else self.toolkit.embedder.embed([sighting.crop])[0]
            )
            new_views.append(
                (
                    frame,
                    sighting,
                    self.store.put_image(sighting.crop, kind="crops", fmt="jpg"),
                    self.store.thumbnail(sighting.crop),
                    image_vector,
                )
            )
        record = analysis_record(target, sampled, findings, verdict, thresholds, frame_files, self.toolkit)
        embedder = self.toolkit.embedder
        frame_vectors = (
            np.asarray(embedder.embed([f.image for f in sampled.frames]), np.float32)
            if embedder.supports_text and sampled.frames
            else None
        )
        with self.factory() as session, session.begin():
            clip = session.get(Clip, target.clip_id)
            if clip is None:
                raise NotFoundError(f"clip {target.clip_id} was deleted during its analysis")
            session.execute(delete(ClipAnalysis).where(ClipAnalysis.clip_id == clip.id))
            analysis = ClipAnalysis(
                clip_id=clip.id,
                record=record,
                continuity_score=verdict.score,
                gate=verdict.gate,
                reasons=list(verdict.reasons),
                settings=self.settings.model_dump(mode="json")
                | {"face_threshold": thresholds.face, "image_threshold": thresholds.image},
                seconds={k: round(v, 3) for k, v in seconds.items()},
                frame_embedding_model=embedder.name if frame_vectors is not None else None,
                frame_embeddings=frame_vectors.tobytes() if frame_vectors is not None else None,
            )
            session.add(analysis)
            session.flush()
            appearances = 0
            for frame in findings:
                for s in frame.sightings:
                    session.add(
                        AssetAppearance(
                            asset_id=s.asset_id,
                            project_id=target.project_id,
                            scene_id=target.scene_id,
                            clip_id=clip.id,
                            analysis_id=analysis.id,
                            frame_index=frame.index,
                            timestamp_seconds=round(frame.seconds, 3),
                            bbox=[round(v, 1) for v in s.box],
                            confidence=round(s.confidence, 4),
                            source=s.source,
                            reference_id=s.reference_id,
                            similarity=s.similarity,
                        )
                    )
                    appearances += 1
            face_model = self.toolkit.faces.embedder.name
            image_model = self.toolkit.embedder.name
            enriched = []
            for frame, s, image_key, thumb_key, image_vector in new_views:
                asset = session.get(Asset, s.asset_id)
                if asset is None:
                    continue
                reference = AssetReference(
                    asset_id=asset.id,
                    sort_order=len(asset.references),
                    bbox=[round(v, 1) for v in s.box],
                    image_key=image_key,
                    thumbnail_key=thumb_key,
                    face_embedding=embedding_to_bytes(s.face_vector) if s.face_vector is not None else None,
                    face_embedding_model=face_model if s.face_vector is not None else None,
                    image_embedding=embedding_to_bytes(image_vector),
                    image_embedding_model=image_model,
                    quality_score=round(s.quality, 2),
                    frame_time_seconds=round(frame.seconds, 3),
                    origin="generated",
                    clip_id=clip.id,
                )
                session.add(reference)
                session.flush()
                enriched.append(
                    {"tag": s.tag, "reference_id": str(reference.id), "seconds": frame.seconds, "quality": s.quality}
                )
            analysis.record = {**record, "enriched": enriched}
            clip.status, clip.error = ClipStatus.ANALYZED, None
            tracker.commit(session)
            return AnalysisOutcome(analysis.id, verdict, appearances, len(enriched), seconds)

    def _store_frame(self, frame: SampledFrame) -> tuple[str, str]:
        return (
            self.store.put_image(frame.image, kind="frames", fmt="jpg", quality=88),
            self.store.thumbnail(frame.image, max_side=320),
        )


def known_asset(asset: Asset, face_model: str, image_model: str) -> KnownAsset:
    """An asset's references as unit vectors of the models in use (others cannot be compared)."""

    def unit(blob: bytes) -> np.ndarray[Any, np.dtype[np.float32]]:
        vector = embedding_from_bytes(blob)
        return vector / (np.linalg.norm(vector) + 1e-12)

    faces = tuple(
        KnownReference(r.id, unit(r.face_embedding))
        for r in asset.references
        if r.face_embedding is not None and r.face_embedding_model == face_model
    )
    images = tuple(
        KnownReference(r.id, unit(r.image_embedding))
        for r in asset.references
        if r.image_embedding is not None and r.image_embedding_model == image_model
    )
    return KnownAsset(
        asset.id, asset.manifest_tag or "", asset.name, asset.asset_type, asset.detection_class, faces, images
    )


def _box(values: tuple[float, ...]) -> list[float]:
    return [round(v, 1) for v in values]


def analysis_record(
    target: Target,
    sampled: SamplingResult,
    findings: list[FrameFindings],
    verdict: Verdict,
    thresholds: Thresholds,
    frame_files: list[tuple[str, str]],
    toolkit: VisionToolkit,
) -> dict[str, Any]:
    """The JSON kept with an analysis: per sampled frame what was found, expected against found,
    unexpected people; per asset its continuity terms; the clip's facts and the models used."""
    expected = list(target.expected)
    frames = []
    for frame, found, (image_key, thumb_key) in zip(sampled.frames, findings, frame_files, strict=True):
        tags = [s.tag for s in found.sightings]
        frames.append(
            {
                "index": frame.index,
                "seconds": round(frame.seconds, 3),
                "reasons": list(frame.reasons),
                "shot": frame.shot,
                "image": image_key,
                "thumbnail": thumb_key,
                "width": int(frame.image.shape[1]),
                "height": int(frame.image.shape[0]),
                "sightings": [
                    {
                        "tag": s.tag,
                        "asset_id": str(s.asset_id),
                        "box": _box(s.box),
                        "confidence": round(s.confidence, 4),
                        "source": s.source,
                        "similarity": s.similarity,
                        "reference_id": str(s.reference_id) if s.reference_id else None,
                    }
                    for s in found.sightings
                ],
                "strangers": [
                    {
                        "box": _box(p.box),
                        "confidence": round(p.confidence, 4),
                        "nearest_tag": p.best_tag,
                        "nearest_similarity": p.best_similarity,
                    }
                    for p in found.strangers
                ],
                "objects": [{"class": c, "box": _box(b), "confidence": round(conf, 4)} for c, b, conf in found.objects],
                "expected_found": [t for t in expected if t in tags],
                "expected_missing": [t for t in expected if t not in tags],
            }
        )
    info = sampled.info
    return {
        "clip": {
            "name": target.clip_name,
            "width": info.width,
            "height": info.height,
            "fps": info.fps,
            "duration_seconds": info.duration_seconds,
            "decoded_frames": sampled.decoded_frames,
            "cuts_seconds": [round(c, 3) for c in sampled.cuts_seconds],
            "shots": sampled.shots,
        },
        "expected": expected,
        "frames": frames,
        "assets": [
            {
                "tag": a.tag,
                "expected": a.expected,
                "frames_present": a.frames_present,
                "presence": a.presence,
                "identity": a.identity,
                "stability": a.stability,
                "score": a.score,
                "similarities": list(a.similarities),
            }
            for a in verdict.assets
        ],
        "frames_with_strangers": verdict.frames_with_strangers,
        "frames_with_unexpected": verdict.frames_with_unexpected,
        "thresholds": {
            "face": thresholds.face,
            "face_model": toolkit.faces.embedder.name,
            "image": thresholds.image,
            "image_model": toolkit.embedder.name,
        },
    }
