"""The manifesting run: reference photos in, a tagged Asset Registry out.

Steps: contact sheet, detection sweep, people (face identity), image embeddings, selection of
assets, descriptions, tags, write. Every step works in memory and the registry is written in one
transaction at the end, so a run that fails or is killed leaves the previous registry untouched and
a restarted run never duplicates assets. Files are stored by content hash, so writing them again is
harmless. Progress is written to the run's Job row as it goes, for any process to read.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import numpy as np
from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session, selectinload, sessionmaker

from vidpipe.db.models import Asset, AssetReference, Job, Manifest, Upload
from vidpipe.describe.describer import Describer, DescribeRequest, Description
from vidpipe.domain.detections import Detections, FloatArray
from vidpipe.domain.enums import AssetSource, AssetType, JobStatus, ManifestStatus
from vidpipe.errors import VidpipeError
from vidpipe.imaging.contact_sheet import SheetEntry, contact_sheet
from vidpipe.imaging.loading import load_image
from vidpipe.imaging.quality import QualityReport, assess_crop
from vidpipe.inference.face_analysis import Face, face_crop
from vidpipe.inference.grouping import FaceItem, group_faces
from vidpipe.inference.nms import box_iou
from vidpipe.inference.vectors import embedding_to_bytes
from vidpipe.pipeline import rules
from vidpipe.pipeline.toolkit import VisionToolkit
from vidpipe.storage import FileStore

STEPS = ("contact_sheet", "detect", "people", "embed", "select", "describe", "tag", "write")
UInt8Image = np.ndarray[Any, np.dtype[np.uint8]]
ProgressSink = Callable[[str, dict[str, int]], None]


class ManifestBusyError(VidpipeError):
    status = 409


@dataclass
class Crop:
    """One candidate view: a face, a detected object or a whole photo, cut from an upload."""

    key: str
    upload: Upload
    kind: str  # "face", "object", "person" or "photo"
    box: tuple[float, float, float, float]  # the detection, in source pixels (unpadded)
    image: UInt8Image  # padded crop
    class_name: str | None = None
    confidence: float | None = None
    landmarks: FloatArray | None = None  # in crop pixels
    face: Face | None = None
    quality: QualityReport | None = None
    embedding: FloatArray | None = None

    @property
    def frame_fraction(self) -> float:
        x1, y1, x2, y2 = self.box
        return max(0.0, (x2 - x1) * (y2 - y1)) / float(self.upload.width * self.upload.height)

    @property
    def prominence(self) -> float:
        x1, y1, x2, y2 = self.box
        return (self.confidence or 1.0) * float(np.sqrt(max(0.0, (x2 - x1) * (y2 - y1))))


@dataclass
class PlannedAsset:
    asset_type: AssetType
    name: str
    source: AssetSource
    crops: list[Crop]  # the first is the primary reference
    upload: Upload | None = None
    description: Description | None = None
    describe_error: str | None = None
    tag: str | None = None
    previous: Asset | None = None

    @property
    def primary(self) -> Crop:
        return self.crops[0]


@dataclass
class RunState:
    manifest_id: uuid.UUID
    title: str
    uploads: list[Upload]
    images: dict[uuid.UUID, UInt8Image]
    sheet_key: str | None = None
    objects: dict[uuid.UUID, Detections] = field(default_factory=dict)
    face_boxes: dict[uuid.UUID, Detections] = field(default_factory=dict)
    faces: list[Crop] = field(default_factory=list)
    objects_crops: list[Crop] = field(default_factory=list)
    photo_crops: dict[uuid.UUID, Crop] = field(default_factory=dict)
    people: list[list[Crop]] = field(default_factory=list)
    planned: list[PlannedAsset] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)


def claim_manifest(factory: sessionmaker[Session], manifest_id: uuid.UUID, *, reprocess: bool) -> None:
    """Move the manifest to PROCESSING, or explain why it cannot start.

    One conditional UPDATE decides: of two processes starting the same manifest at once, exactly
    one sees its row change.
    """
    allowed = [ManifestStatus.DRAFT] + ([ManifestStatus.READY, ManifestStatus.ERROR] if reprocess else [])
    with factory() as session, session.begin():
        result = session.execute(
            update(Manifest)
            .where(Manifest.id == manifest_id, Manifest.status.in_(allowed))
            .values(status=ManifestStatus.PROCESSING, error=None, updated_at=datetime.now(UTC))
        )
        changed = cast(CursorResult[Any], result).rowcount
        if changed == 1:
            return
        status = session.scalar(select(Manifest.status).where(Manifest.id == manifest_id))
    if status is None:
        raise VidpipeError(f"no manifest with id {manifest_id}")
    if status is ManifestStatus.PROCESSING:
        raise ManifestBusyError(f"manifest {manifest_id} is already being processed by another run")
    raise ManifestBusyError(
        f"manifest {manifest_id} is {status.value}; only a DRAFT manifest starts, use reprocess to run it again"
    )


class JobProgress:
    """Writes the run's step and counters to its Job row, at most every ``interval`` seconds."""

    def __init__(
        self, factory: sessionmaker[Session], job_id: uuid.UUID, sink: ProgressSink | None, interval: float = 0.25
    ):
        self.factory = factory
        self.job_id = job_id
        self.sink = sink
        self.interval = interval
        self.step = ""
        self.counters: dict[str, int] = {}
        self._last = 0.0

    def begin(self, step: str) -> None:
        self.step = step
        self._flush(force=True)

    def set(self, **counters: int) -> None:
        self.counters.update(counters)
        self._flush()

    def _flush(self, force: bool = False) -> None:
        if self.sink:
            self.sink(self.step, dict(self.counters))
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        with self.factory() as session, session.begin():
            session.execute(
                update(Job)
                .where(Job.id == self.job_id)
                .values(current_step=self.step, progress=dict(self.counters), updated_at=datetime.now(UTC))
            )


class ManifestRunner:
    """Runs manifests with one set of models, one file store and one describer."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        store: FileStore,
        toolkit: VisionToolkit,
        describer: Describer,
    ) -> None:
        self.factory = factory
        self.store = store
        self.toolkit = toolkit
        self.describer = describer

    # ----------------------------------------------------------------------------------- the run

    def run(
        self, manifest_id: uuid.UUID, *, reprocess: bool = False, progress: ProgressSink | None = None
    ) -> dict[str, Any]:
        """Process a manifest; returns its statistics. Raises VidpipeError if it cannot start."""
        claim_manifest(self.factory, manifest_id, reprocess=reprocess)
        with self.factory() as session, session.begin():
            job = Job(kind="manifest.process", target_id=manifest_id, status=JobStatus.RUNNING, attempts=1)
            job.started_at = datetime.now(UTC)
            session.add(job)
        tracker = JobProgress(self.factory, job.id, progress)
        step = "load"
        try:
            state = self._load(manifest_id)
            tracker.set(uploads_total=len(state.uploads), uploads_processed=0, crops_total=0, crops_described=0)
            for step in STEPS:
                tracker.begin(step)
                start = time.perf_counter()
                getattr(self, f"_step_{step}")(state, tracker)
                state.seconds[step] = round(time.perf_counter() - start, 3)
        except Exception as exc:
            self._fail(manifest_id, job.id, step, exc)
            if isinstance(exc, VidpipeError):
                raise
            raise VidpipeError(f"manifest {manifest_id}: step {step!r} failed: {exc}") from exc
        stats = self._stats(state)
        with self.factory() as session, session.begin():
            # The write step's own time is known only now.
            session.execute(update(Manifest).where(Manifest.id == manifest_id).values(stats=stats))
            session.execute(
                update(Job)
                .where(Job.id == job.id)
                .values(status=JobStatus.SUCCEEDED, current_step="done", finished_at=datetime.now(UTC))
            )
        return stats

    def _fail(self, manifest_id: uuid.UUID, job_id: uuid.UUID, step: str, exc: BaseException) -> None:
        message = f"step {step!r} failed: {exc}"
        with self.factory() as session, session.begin():
            session.execute(
                update(Manifest)
                .where(Manifest.id == manifest_id)
                .values(status=ManifestStatus.ERROR, error=message, updated_at=datetime.now(UTC))
            )
            session.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(status=JobStatus.FAILED, error=message, finished_at=datetime.now(UTC))
            )

    def _load(self, manifest_id: uuid.UUID) -> RunState:
        with self.factory() as session:
            title = session.scalar(select(Manifest.name).where(Manifest.id == manifest_id)) or "Manifest"
            uploads = list(
                session.scalars(select(Upload).where(Upload.manifest_id == manifest_id).order_by(Upload.sort_order))
            )
        # One decode per photo for the whole run.
        images = {u.id: load_image(self.store.path(u.storage_key), name=u.original_filename) for u in uploads}
        return RunState(manifest_id=manifest_id, title=title, uploads=uploads, images=images)

    # --------------------------------------------------------------------------------- the steps

    def _step_contact_sheet(self, state: RunState, tracker: JobProgress) -> None:
        entries = [SheetEntry(state.images[u.id], u.name, u.asset_type.value) for u in state.uploads]
        state.sheet_key = self.store.put_image(contact_sheet(entries, title=state.title), kind="sheets", fmt="jpg")

    def _step_detect(self, state: RunState, tracker: JobProgress) -> None:
        for n, upload in enumerate(state.uploads, 1):
            image = state.images[upload.id]
            objects = self.toolkit.detector.detect(image)
            state.objects[upload.id] = objects
            state.face_boxes[upload.id] = self.toolkit.faces.detect(image, objects)
            for i in range(len(objects)):
                box = tuple(float(v) for v in objects.xyxy[i])
                crop, _ = face_crop(image, box, padding=rules.OBJECT_PADDING)
                name = objects.names[i]
                state.objects_crops.append(
                    Crop(
                        key=f"{upload.id}/object/{i}",
                        upload=upload,
                        kind="person" if name == "person" else "object",
                        box=(box[0], box[1], box[2], box[3]),
                        image=np.ascontiguousarray(crop),
                        class_name=name,
                        confidence=float(objects.confidence[i]),
                    )
                )
            h, w = image.shape[:2]
            state.photo_crops[upload.id] = Crop(
                key=f"{upload.id}/photo", upload=upload, kind="photo", box=(0.0, 0.0, float(w), float(h)), image=image
            )
            tracker.set(uploads_processed=n)

    def _step_people(self, state: RunState, tracker: JobProgress) -> None:
        faces: list[Face] = []
        for upload in state.uploads:
            image = state.images[upload.id]
            for face in self.toolkit.faces.analyze(image, str(upload.id), faces=state.face_boxes[upload.id]):
                faces.append(face)
                crop, (ox, oy) = face_crop(image, face.box, padding=rules.FACE_PADDING)
                landmarks = None if face.landmarks is None else face.landmarks - np.asarray([ox, oy], np.float32)
                state.faces.append(
                    Crop(
                        key=face.key,
                        upload=upload,
                        kind="face",
                        box=face.box,
                        image=np.ascontiguousarray(crop),
                        class_name="face",
                        confidence=face.confidence,
                        landmarks=landmarks,
                        face=face,
                        quality=face.quality,
                    )
                )
        by_key = {c.key: c for c in state.faces}
        groups = self.toolkit.faces.group(faces)
        state.people = [[by_key[k] for k in group.members] for group in groups]
        state.counters["faces"] = len(faces)
        state.counters["people"] = len(groups)

    def _step_embed(self, state: RunState, tracker: JobProgress) -> None:
        crops = [*state.faces, *state.objects_crops, *state.photo_crops.values()]
        tracker.set(crops_total=len(crops))
        vectors = self.toolkit.embedder.embed([c.image for c in crops])
        for crop, vector in zip(crops, vectors, strict=True):
            crop.embedding = vector
            if crop.quality is None:
                crop.quality = assess_crop(crop.image, landmarks=crop.landmarks, is_face=crop.kind == "face")
        state.counters["crops"] = len(crops)

    def _step_select(self, state: RunState, tracker: JobProgress) -> None:
        state.planned = plan_assets(state, self.toolkit.embedder.same_object_threshold)

    def _step_describe(self, state: RunState, tracker: JobProgress) -> None:
        requests = [
            DescribeRequest(
                image=asset.primary.image,
                asset_type=asset.asset_type,
                name=asset.name if asset.source is AssetSource.UPLOADED else "",
                detection_class=asset.primary.class_name,
                detection_confidence=asset.primary.confidence,
                is_face=asset.primary.kind == "face",
                landmarks=asset.primary.landmarks,
                frame_fraction=asset.primary.frame_fraction,
                source_size=(asset.primary.upload.width, asset.primary.upload.height),
            )
            for asset in state.planned
        ]
        results = self.describer.describe_many(requests)
        for n, (asset, result) in enumerate(zip(state.planned, results, strict=True), 1):
            if isinstance(result, Exception):
                asset.describe_error = str(result)
            else:
                asset.description = result
                if asset.source is not AssetSource.UPLOADED:
                    asset.name = result.suggested_name
            tracker.set(crops_described=n)
        state.counters["describe_errors"] = sum(a.describe_error is not None for a in state.planned)

    def _step_tag(self, state: RunState, tracker: JobProgress) -> None:
        with self.factory() as session:
            previous = list(
                session.scalars(
                    select(Asset).where(Asset.manifest_id == state.manifest_id).options(selectinload(Asset.references))
                )
            )
        match_previous(state.planned, previous)
        tags = rules.assign_tags(
            (a.asset_type, a.previous.manifest_tag if a.previous is not None else None) for a in state.planned
        )
        for asset, tag in zip(state.planned, tags, strict=True):
            asset.tag = tag

    def _step_write(self, state: RunState, tracker: JobProgress) -> None:
        # Files first (content-addressed, so a repeat writes nothing new), then one transaction.
        stored: dict[str, tuple[str, str]] = {}
        for asset in state.planned:
            for crop in asset.crops:
                if crop.key not in stored:
                    stored[crop.key] = (
                        self.store.put_image(crop.image, kind="crops", fmt="jpg"),
                        self.store.thumbnail(crop.image),
                    )
        face_model = self.toolkit.faces.embedder.name
        image_model = self.toolkit.embedder.name
        with self.factory() as session, session.begin():
            manifest = session.get(Manifest, state.manifest_id)
            assert manifest is not None
            kept = {a.previous.id for a in state.planned if a.previous is not None}
            for old in session.scalars(select(Asset).where(Asset.manifest_id == state.manifest_id)):
                if old.id not in kept:
                    session.delete(old)
            session.flush()
            for order, planned in enumerate(state.planned):
                row = session.get(Asset, planned.previous.id) if planned.previous is not None else None
                if row is None:
                    row = Asset(manifest_id=state.manifest_id, user_tags=[])
                    session.add(row)
                else:
                    row.primary_reference = None
                    session.flush()
                    row.references.clear()
                    session.flush()
                apply_plan(row, planned, order)
                references = []
                for ref_order, crop in enumerate(planned.crops):
                    image_key, thumb_key = stored[crop.key]
                    references.append(
                        AssetReference(
                            upload_id=crop.upload.id,
                            sort_order=ref_order,
                            bbox=[round(v, 1) for v in crop.box],
                            image_key=image_key,
                            thumbnail_key=thumb_key,
                            face_embedding=embedding_to_bytes(crop.face.embedding) if crop.face else None,
                            face_embedding_model=face_model if crop.face else None,
                            image_embedding=embedding_to_bytes(crop.embedding) if crop.embedding is not None else None,
                            image_embedding_model=image_model if crop.embedding is not None else None,
                            quality_score=crop.quality.score if crop.quality else None,
                        )
                    )
                row.references.extend(references)
                session.flush()
                row.primary_reference = references[0]
            state.counters["assets"] = len(state.planned)
            manifest.status = ManifestStatus.READY
            manifest.error = None
            manifest.contact_sheet = state.sheet_key
            manifest.asset_count = len(state.planned)
            manifest.processed_at = datetime.now(UTC)
            manifest.stats = self._stats(state)

    def _stats(self, state: RunState) -> dict[str, Any]:
        per_type = {t.value: sum(a.asset_type is t for a in state.planned) for t in AssetType}
        return {
            "uploads": len(state.uploads),
            "crops": state.counters.get("crops", 0),
            "faces": state.counters.get("faces", 0),
            "people": state.counters.get("people", 0),
            "people_merged": state.counters.get("faces", 0) - state.counters.get("people", 0),
            "assets": len(state.planned),
            "assets_per_type": {k: v for k, v in per_type.items() if v},
            "describe_errors": state.counters.get("describe_errors", 0),
            "seconds": dict(state.seconds),
            "seconds_total": round(sum(state.seconds.values()), 3),
        }


# ------------------------------------------------------------------------------- pure helpers


def apply_plan(asset: Asset, planned: PlannedAsset, order: int) -> None:
    """Copy a planned asset onto a row, keeping what the user changed on an earlier run."""
    user_renamed = (
        planned.previous is not None
        and planned.source is not AssetSource.UPLOADED
        and planned.previous.name != planned.previous.suggested_name
    )
    asset.asset_type = planned.asset_type
    if not user_renamed:
        asset.name = planned.name
    asset.source = planned.source
    asset.manifest_tag = planned.tag
    asset.sort_order = order
    asset.upload_id = planned.upload.id if planned.upload else None
    asset.detection_class = planned.primary.class_name if planned.primary.kind != "photo" else None
    asset.detection_confidence = planned.primary.confidence
    asset.is_face_crop = planned.primary.kind == "face"
    description = planned.description
    asset.reverse_prompt = description.reverse_prompt if description else None
    asset.visual_description = description.visual_description if description else None
    asset.description = description.visual_description if description else planned.describe_error
    asset.suggested_name = description.suggested_name if description else None
    asset.quality_score = (
        description.quality_score
        if description
        else (planned.primary.quality.score if planned.primary.quality else None)
    )


def _bbox_iou(a: tuple[float, ...], b: list[float] | None) -> float:
    if b is None:
        return 0.0
    return float(box_iou(np.asarray([a], np.float32), np.asarray([b], np.float32))[0, 0])


def match_previous(planned: list[PlannedAsset], previous: list[Asset]) -> None:
    """Pair each planned asset with the asset of an earlier run that shows the same thing.

    Same type, and at least one reference cut from the same photo at nearly the same place;
    the pair sharing the most such references wins. Matched assets keep their tags and ids.
    """
    scores = []
    for i, plan in enumerate(planned):
        for j, old in enumerate(previous):
            if old.asset_type is not plan.asset_type:
                continue
            shared = sum(
                1
                for crop in plan.crops
                for ref in old.references
                if ref.upload_id == crop.upload.id and _bbox_iou(crop.box, ref.bbox) >= 0.5
            )
            if shared:
                scores.append((shared, -i, -j, i, j))
    used_plan, used_old = set(), set()
    for _, _, _, i, j in sorted(scores, reverse=True):
        if i in used_plan or j in used_old:
            continue
        planned[i].previous = previous[j]
        used_plan.add(i)
        used_old.add(j)


def _best(crops: list[Crop]) -> Crop:
    return max(crops, key=lambda c: (c.prominence, c.key))


def plan_assets(state: RunState, same_object_threshold: float) -> list[PlannedAsset]:
    """Apply the rules in ``pipeline.rules`` to the crops of a run."""
    planned: list[PlannedAsset] = []
    person_of = {c.key: n for n, person in enumerate(state.people) for c in person}
    people_assets: dict[int, PlannedAsset] = {}
    primary_objects: dict[uuid.UUID, Crop] = {}

    for upload in state.uploads:
        faces = [c for c in state.faces if c.upload.id == upload.id]
        objects = [c for c in state.objects_crops if c.upload.id == upload.id]
        if upload.asset_type is AssetType.CHARACTER:
            if faces:
                person = person_of[_best(faces).key]
                if person in people_assets:  # the same person in another CHARACTER photo
                    continue
                members = state.people[person]
                own = _best([c for c in members if c.upload.id == upload.id])
                crops = [own, *[c for c in members if c is not own]]
                asset = PlannedAsset(AssetType.CHARACTER, upload.name, AssetSource.UPLOADED, crops, upload)
                people_assets[person] = asset
            else:
                people = [c for c in objects if c.kind == "person"]
                crop = _best(people) if people else state.photo_crops[upload.id]
                asset = PlannedAsset(AssetType.CHARACTER, upload.name, AssetSource.UPLOADED, [crop], upload)
        elif upload.asset_type in (AssetType.OBJECT, AssetType.PROP, AssetType.VEHICLE):
            fitting = [c for c in objects if c.class_name and rules.fits_type(c.class_name, upload.asset_type)]
            crop = (
                max(
                    fitting,
                    key=lambda c: (rules.preference(c.class_name or "", upload.asset_type, upload.name), c.prominence),
                )
                if fitting
                else state.photo_crops[upload.id]
            )
            if fitting:
                primary_objects[upload.id] = crop
            asset = PlannedAsset(upload.asset_type, upload.name, AssetSource.UPLOADED, [crop], upload)
        else:
            asset = PlannedAsset(
                upload.asset_type, upload.name, AssetSource.UPLOADED, [state.photo_crops[upload.id]], upload
            )
        planned.append(asset)

    # Other people, seen clearly enough, become extracted characters.
    for n, members in enumerate(state.people):
        if n in people_assets:
            continue
        clear = [c for c in members if min(c.box[2] - c.box[0], c.box[3] - c.box[1]) >= rules.EXTRACT_FACE_MIN_SIDE_PX]
        if not clear:
            continue
        best = max(clear, key=lambda c: (c.quality.score if c.quality else 0.0, c.key))
        crops = [best, *[c for c in members if c is not best]]
        planned.append(PlannedAsset(AssetType.CHARACTER, "Person", AssetSource.EXTRACTED, crops))

    # Objects: the same object across photos becomes one asset (same class, similar embedding).
    primary_keys = {c.key for c in primary_objects.values()}
    by_primary = {a.primary.key: a for a in planned if a.primary.key in primary_keys}
    candidates = [
        c
        for c in state.objects_crops
        if c.kind == "object"
        and (
            c.key in by_primary
            or (
                (c.confidence or 0.0) >= rules.EXTRACT_MIN_CONFIDENCE
                and min(c.box[2] - c.box[0], c.box[3] - c.box[1]) >= rules.EXTRACT_MIN_SIDE_PX
                and c.frame_fraction >= rules.EXTRACT_MIN_AREA_FRACTION
            )
        )
    ]
    for class_name in sorted({c.class_name or "" for c in candidates}):
        same_class = [c for c in candidates if c.class_name == class_name]
        items = [
            FaceItem(key=c.key, photo=str(c.upload.id), embedding=c.embedding, quality=c.prominence)
            for c in same_class
            if c.embedding is not None
        ]
        # Two photos the user named differently are two assets, however alike they look.
        primaries = [c for c in same_class if c.key in by_primary]
        different = [
            (a.key, b.key)
            for i, a in enumerate(primaries)
            for b in primaries[i + 1 :]
            if by_primary[a.key].name != by_primary[b.key].name
        ]
        by_key = {c.key: c for c in same_class}
        for group in group_faces(items, same_object_threshold, different=different):
            members = [by_key[k] for k in group.members]
            owner = next((by_primary[c.key] for c in members if c.key in by_primary), None)
            if owner is not None:
                owner.crops.extend(c for c in members if c is not owner.primary)
                continue
            best = _best(members)
            crops = [best, *[c for c in members if c is not best]]
            planned.append(
                PlannedAsset(rules.extracted_type(class_name), class_name.title(), AssetSource.EXTRACTED, crops)
            )
    return planned
