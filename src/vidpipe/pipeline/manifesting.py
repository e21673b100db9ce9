"""The manifesting run: reference photos in, a tagged Asset Registry out.

Steps: the detection sweep, contact sheet, people (face identity), image embeddings, selection of
assets, descriptions, tags, write. The sweep takes one photo at a time through
`photo_analysis.analyze_photo` (decode, objects and faces, crops, embeddings, quality, each crop's
files stored) and keeps only its record, so a run's memory does not grow with its photos; every
later step works from those records and reads back from the store the few crops it needs pixels
of (the describer's, the whole photos that become references). The registry is written in one
transaction at the end, so a run that fails, is cancelled or is killed leaves the previous registry
untouched and a restarted run never duplicates assets. Files are stored by content hash, so writing
them again is harmless. Progress goes to a ``RunTracker`` (the job carrying the run), which is also
asked between photos and between steps whether to go on.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload, sessionmaker

from vidpipe.db.models import (
    Asset,
    AssetDecision,
    AssetReference,
    ChosenPrimary,
    DismissedView,
    Manifest,
    Upload,
)
from vidpipe.describe.describer import Describer, DescribeRequest, Description
from vidpipe.domain.enums import AssetSource, AssetType, ManifestStatus
from vidpipe.errors import ImageLoadError, VidpipeError
from vidpipe.inference.nms import as_boxes, box_inside
from vidpipe.inference.vectors import embedding_to_bytes
from vidpipe.pipeline import rules
from vidpipe.pipeline.crop_pixels import CropPixels
from vidpipe.pipeline.descriptions import store_description
from vidpipe.pipeline.photo_analysis import CROPS_KIND, PhotoAnalysis, PhotoRef, PhotoStore, analyze_photo
from vidpipe.pipeline.planning import (
    Crop,
    PlannedAsset,
    RunState,
    crops_of,
    match_previous,
    plan_assets,
    resolve_decisions,
)
from vidpipe.pipeline.run_sheet import SheetTile, draw_sheet
from vidpipe.pipeline.run_stats import RunStats
from vidpipe.pipeline.toolkit import VisionToolkit
from vidpipe.storage import Store

# The contact sheet follows the sweep: it is drawn from the small tiles the sweep stores.
STEPS = ("detect", "contact_sheet", "people", "embed", "select", "describe", "tag", "write")
UInt8Image = np.ndarray[Any, np.dtype[np.uint8]]
# The describer is handed at most this many assets, or this many pixels, at a time: enough to keep a
# remote describer's requests in flight, few enough that their crops are never all held at once.
DESCRIBE_BATCH = 32
DESCRIBE_BATCH_PIXELS = 48_000_000


class RunTracker(Protocol):
    """What a run reports to, and asks whether to go on: the job that carries it."""

    def begin(self, step: str) -> None:
        """A step starts (also a checkpoint)."""

    def set(self, **counters: int) -> None:
        """Counters changed (also a checkpoint: between photos, between descriptions)."""

    def checkpoint(self) -> None:
        """Raise if the run must stop now (cancelled, or its job was taken over)."""

    def found_view(self, kind: str, label: str, thumbnail_key: str) -> None:
        """A face or an object was cut out (its thumbnail stored already): shown while the run goes on."""

    def commit(self, session: Session) -> None:
        """Inside the registry's write transaction: confirm the run still owns its job and mark the
        job done with it, so that registry and job change together or not at all."""


class ManifestRunner:
    """Runs manifests with one set of models, one file store and one describer.

    The manifest must already be claimed (PROCESSING) by the job that calls ``run``; the job decides
    what a failure or a cancellation does to the manifest. ``analyze`` does one photo's work and
    returns its record: `analyze_photo` here, in this process, unless something else (a worker
    elsewhere) is given.
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        store: Store,
        toolkit: VisionToolkit,
        describer: Describer,
        analyze: Callable[[PhotoRef, VisionToolkit, PhotoStore], PhotoAnalysis] = analyze_photo,
        analyze_all: Callable[[list[PhotoRef]], dict[uuid.UUID, PhotoAnalysis]] | None = None,
    ) -> None:
        self.factory = factory
        self.store = store
        self.toolkit = toolkit
        self.describer = describer
        self.analyze = analyze
        # Every photo's record at once, made elsewhere (a split run's parts on other workers).
        self.analyze_all = analyze_all
        self.pixels = CropPixels(store)
        self.failed_step = ""

    # ----------------------------------------------------------------------------------- the run

    def run(self, manifest_id: uuid.UUID, tracker: RunTracker) -> RunStats:
        """Process a manifest and write its registry; returns its statistics.

        ``failed_step`` names the step that was running when an exception left this method.
        """
        self.failed_step = "load"
        state = self._load(manifest_id)
        if not state.uploads:
            raise VidpipeError(f"manifest {manifest_id} has no photos; add some with `vidpipe manifest add`")
        tracker.set(
            uploads_total=len(state.uploads),
            uploads_processed=0,
            crops_total=0,
            describe_total=0,
            crops_described=0,
        )
        for step in STEPS:
            self.failed_step = step
            tracker.begin(step)
            start = time.perf_counter()
            try:
                getattr(self, f"_step_{step}")(state, tracker)
            finally:
                self.pixels.release()
            state.seconds[step] = round(time.perf_counter() - start, 3)
        stats = self._stats(state)
        with self.factory() as session, session.begin():
            # The write step's own time is known only now.
            session.execute(update(Manifest).where(Manifest.id == manifest_id).values(stats=stats.model_dump()))
        return stats

    def _load(self, manifest_id: uuid.UUID) -> RunState:
        with self.factory() as session:
            title = session.scalar(select(Manifest.name).where(Manifest.id == manifest_id)) or "Manifest"
            uploads = list(
                session.scalars(select(Upload).where(Upload.manifest_id == manifest_id).order_by(Upload.sort_order))
            )
            decisions = list(
                session.scalars(
                    select(AssetDecision)
                    .where(AssetDecision.manifest_id == manifest_id)
                    .order_by(AssetDecision.created_at, AssetDecision.id)
                )
            )
            previous = list(
                session.scalars(
                    select(Asset)
                    .where(Asset.manifest_id == manifest_id)
                    .options(selectinload(Asset.references), selectinload(Asset.primary_reference))
                )
            )
            dismissed = [
                (row.upload_id, list(row.bbox))
                for row in session.scalars(select(DismissedView).where(DismissedView.manifest_id == manifest_id))
            ]
            chosen = [
                (row.upload_id, list(row.bbox))
                for row in session.scalars(select(ChosenPrimary).where(ChosenPrimary.manifest_id == manifest_id))
            ]
        # Each photo is decoded once, in the sweep; a missing one fails the run now, before any work.
        for upload in uploads:
            if not self.store.exists(upload.storage_key):
                raise ImageLoadError(upload.original_filename, "no such file")
        return RunState(
            manifest_id=manifest_id,
            title=title,
            uploads=uploads,
            decisions=decisions,
            previous=previous,
            dismissed=dismissed,
            chosen=chosen,
        )

    # --------------------------------------------------------------------------------- the steps

    def _step_detect(self, state: RunState, tracker: RunTracker) -> None:
        if self.analyze_all is not None:
            records = self.analyze_all([PhotoRef.of(u) for u in state.uploads])
            for upload in state.uploads:
                if upload.id not in records:
                    raise VidpipeError(f"no analysis came back for photo {upload.original_filename!r}")
                self._take(state, upload, records[upload.id], tracker)
            tracker.set(uploads_processed=len(state.uploads))
            return
        for n, upload in enumerate(state.uploads, 1):
            tracker.checkpoint()
            analysis = self.analyze(PhotoRef.of(upload), self.toolkit, self.store)
            self._take(state, upload, analysis, tracker)
            tracker.set(uploads_processed=n)

    def _take(self, state: RunState, upload: Upload, analysis: PhotoAnalysis, tracker: RunTracker) -> None:
        """Add a photo's record to the run: its views become the run's crops; objects and faces are
        shown at once (people are shown by their faces)."""
        if analysis.upload_id != upload.id:
            raise VidpipeError(f"a photo analysis for upload {analysis.upload_id} came back for upload {upload.id}")
        state.analyses[upload.id] = analysis
        faces, objects, photo = crops_of(upload, analysis)
        state.objects_crops.extend(objects)
        state.faces.extend(faces)
        state.photo_crops[upload.id] = photo
        for crop in objects:
            if crop.kind == "object":
                self._show(crop, crop.class_name or "object", tracker)
        for crop in faces:
            self._show(crop, upload.name, tracker)

    def _show(self, crop: Crop, label: str, tracker: RunTracker) -> None:
        if crop.thumbnail_key is not None:
            tracker.found_view(crop.kind, label, crop.thumbnail_key)

    def _step_contact_sheet(self, state: RunState, tracker: RunTracker) -> None:
        tiles = [SheetTile(state.analyses[u.id].tile_key, u.name, u.asset_type.value) for u in state.uploads]
        state.sheet_key = self.store.put_image(
            draw_sheet(self.store, tiles, title=state.title), kind="sheets", fmt="jpg"
        )

    def _step_people(self, state: RunState, tracker: RunTracker) -> None:
        tracker.checkpoint()
        faces = [c.face for c in state.faces if c.face is not None]
        by_key = {c.key: c for c in state.faces}
        # The user's decisions name views by place; find them among every crop of this run.
        state.decided = resolve_decisions(
            state.decisions, [*state.faces, *state.objects_crops, *state.photo_crops.values()]
        )
        groups = self.toolkit.faces.group(faces, different=state.decided.different_within(set(by_key)))
        state.people = [[by_key[k] for k in group.members] for group in groups]
        state.counters["faces"] = len(faces)
        state.counters["people"] = len(groups)

    def _step_embed(self, state: RunState, tracker: RunTracker) -> None:
        # The sweep embedded and scored each photo's crops while it held its pixels: here they are counted.
        crops = [*state.faces, *state.objects_crops, *state.photo_crops.values()]
        tracker.set(crops_total=len(crops))
        state.counters["crops"] = len(crops)

    def _step_select(self, state: RunState, tracker: RunTracker) -> None:
        state.planned = plan_assets(state, self.toolkit.embedder.same_object_threshold)
        match_previous(state.planned, state.previous)

    def _step_describe(self, state: RunState, tracker: RunTracker) -> None:
        # An asset whose reference the user swapped keeps the description made from that reference.
        # ...and one whose description the user wrote keeps it.
        todo = [asset for asset in state.planned if not asset.pinned and not asset.user_described]
        tracker.set(describe_total=len(todo), crops_described=0)
        finished = 0

        def on_done(index: int, result: Description | Exception) -> None:
            # Remote describers finish out of order: count each asset as it lands.
            nonlocal finished
            finished += 1
            tracker.set(crops_described=finished)

        results: list[Description | Exception] = []
        for requests in self._request_batches(state, todo):
            results.extend(self.describer.describe_many(requests, on_done=on_done))
        for asset, result in zip(todo, results, strict=True):
            if isinstance(result, Exception):
                asset.describe_error = str(result) or type(result).__name__
            else:
                asset.description = result
                if asset.source is not AssetSource.UPLOADED:
                    asset.name = result.suggested_name
        state.counters["describe_errors"] = sum(a.describe_error is not None for a in state.planned)
        state.counters["pinned"] = len(state.planned) - len(todo)

    def _request_batches(self, state: RunState, todo: list[PlannedAsset]) -> Iterator[list[DescribeRequest]]:
        """The describe requests of ``todo`` in order, a bounded batch at a time (see DESCRIBE_BATCH)."""
        batch: list[DescribeRequest] = []
        pixels = 0
        for asset in todo:
            request = self._request(state, asset)
            batch.append(request)
            pixels += request.image.shape[0] * request.image.shape[1]
            if len(batch) >= DESCRIBE_BATCH or pixels >= DESCRIBE_BATCH_PIXELS:
                yield batch
                batch, pixels = [], 0
        if batch:
            yield batch

    def _request(self, state: RunState, asset: PlannedAsset) -> DescribeRequest:
        """What the describer is shown of an asset: its primary view; for a character seen by its
        face, the whole person around that face when one was detected (clothes and what they
        carry are part of a character), with where the face is in it."""
        primary = asset.primary
        name = asset.name if asset.source is AssetSource.UPLOADED else ""
        source_size = (primary.upload.width, primary.upload.height)
        body = self._body_of(state, primary) if asset.asset_type is AssetType.CHARACTER else None
        if body is not None and primary.face is not None:
            ox, oy = body.origin
            x1, y1, x2, y2 = primary.box
            landmarks = primary.face.landmarks
            return DescribeRequest(
                image=self._pixels(body),
                asset_type=asset.asset_type,
                name=name,
                detection_class="person",
                detection_confidence=body.confidence,
                landmarks=None if landmarks is None else landmarks - np.asarray([ox, oy], np.float32),
                face_box=(x1 - ox, y1 - oy, x2 - ox, y2 - oy),
                source_size=source_size,
                accessories=tuple(asset.wardrobe),
            )
        return DescribeRequest(
            image=self._pixels(primary),
            asset_type=asset.asset_type,
            name=name,
            detection_class=primary.class_name,
            detection_confidence=primary.confidence,
            is_face=primary.kind == "face",
            landmarks=primary.landmarks,
            frame_fraction=primary.frame_fraction,
            source_size=source_size,
            accessories=tuple(asset.wardrobe),
        )

    @staticmethod
    def _body_of(state: RunState, face: Crop) -> Crop | None:
        """The tightest detected person holding this face (its box mostly inside theirs), if any."""
        if face.kind != "face":
            return None
        people = [c for c in state.objects_crops if c.kind == "person" and c.upload.id == face.upload.id]
        if not people:
            return None
        held = box_inside(as_boxes(face.box), as_boxes(*(p.box for p in people)))[0]
        holders = [p for p, share in zip(people, held.tolist(), strict=True) if share >= 0.8]
        return min(holders, key=lambda p: (p.box[2] - p.box[0]) * (p.box[3] - p.box[1]), default=None)

    def _pixels(self, crop: Crop) -> UInt8Image:
        """A crop's exact pixels, cut again from its upload (see `crop_pixels`). A whole photo is
        stored as a crop the first time an asset needs it (the sweep stored every other crop)."""
        image = self.pixels.of(crop)
        if crop.image_key is None:
            crop.image_key = self.store.put_image(image, kind=CROPS_KIND, fmt="jpg")
        return image

    def _image_key(self, crop: Crop) -> str:
        if crop.image_key is None:
            self._pixels(crop)
        assert crop.image_key is not None
        return crop.image_key

    def _step_tag(self, state: RunState, tracker: RunTracker) -> None:
        tags = rules.assign_tags(
            (a.asset_type, a.previous.manifest_tag if a.previous is not None else None) for a in state.planned
        )
        for asset, tag in zip(state.planned, tags, strict=True):
            asset.tag = tag

    def _step_write(self, state: RunState, tracker: RunTracker) -> None:
        # The sweep stored every crop's files (content-addressed, so a repeat writes nothing new); only
        # whole photos that became references are stored here. Then one transaction.
        began = time.perf_counter()
        stored: dict[str, tuple[str, str]] = {}
        for asset in state.planned:
            for crop in asset.crops:
                if crop.key not in stored:
                    image_key = self._image_key(crop)
                    stored[crop.key] = (
                        image_key,
                        crop.thumbnail_key or self.store.thumbnail(self._pixels(crop)),
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
                kept_refs: list[AssetReference] = []
                if row is None:
                    row = Asset(manifest_id=state.manifest_id, user_tags=[])
                    session.add(row)
                else:
                    pinned_id = row.primary_reference_id if planned.pinned else None
                    row.primary_reference = None
                    session.flush()
                    # References not cut from an upload (given by the user, later from clips) are
                    # not the run's to rebuild: they stay, a pinned primary first.
                    kept_refs = sorted(
                        (r for r in row.references if r.upload_id is None),
                        key=lambda r: (r.id != pinned_id, r.sort_order),
                    )
                    for ref in [r for r in row.references if r.upload_id is not None]:
                        row.references.remove(ref)
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
                if planned.pinned and kept_refs:
                    ordered = [kept_refs[0], *references, *kept_refs[1:]]
                else:
                    ordered = [*references, *kept_refs]
                for ref_order, ref in enumerate(ordered):
                    ref.sort_order = ref_order
                row.references.extend(references)
                session.flush()
                row.primary_reference = ordered[0]
            state.counters["assets"] = len(state.planned)
            tracker.commit(session)
            manifest.status = ManifestStatus.READY
            manifest.error = None
            manifest.contact_sheet = state.sheet_key
            manifest.asset_count = len(state.planned)
            manifest.processed_at = datetime.now(UTC)
            # Readers see READY and these stats together: the write step's time so far is in them
            # (the run sets its final figure just after), so no finished step ever lacks a time.
            state.seconds["write"] = round(time.perf_counter() - began, 3)
            manifest.stats = self._stats(state).model_dump()

    def _stats(self, state: RunState) -> RunStats:
        per_type = {t.value: sum(a.asset_type is t for a in state.planned) for t in AssetType}
        return RunStats(
            uploads=len(state.uploads),
            crops=state.counters.get("crops", 0),
            faces=state.counters.get("faces", 0),
            people=state.counters.get("people", 0),
            people_merged=state.counters.get("faces", 0) - state.counters.get("people", 0),
            assets=len(state.planned),
            assets_per_type={k: v for k, v in per_type.items() if v},
            describe_errors=state.counters.get("describe_errors", 0),
            seconds=dict(state.seconds),
            seconds_total=round(sum(state.seconds.values()), 3),
        )


# ------------------------------------------------------------------------------- writing rows


def apply_plan(asset: Asset, planned: PlannedAsset, order: int) -> None:
    """Copy a planned asset onto a row, keeping what the user changed on an earlier run."""
    asset.asset_type = planned.asset_type
    asset.name = planned.user_name or planned.name
    asset.source = planned.source
    asset.manifest_tag = planned.tag
    asset.sort_order = order
    asset.upload_id = planned.upload.id if planned.upload else None
    asset.detection_class = planned.primary.class_name if planned.primary.kind != "photo" else None
    asset.detection_confidence = planned.primary.confidence
    asset.attributes = {"wardrobe": list(planned.wardrobe)} if planned.wardrobe else None
    if planned.pinned:
        return  # the user's own primary reference, and the description made from it, stay
    asset.is_face_crop = planned.primary.kind == "face"
    if planned.user_described:
        return  # the user's own words stay
    store_description(
        asset,
        planned.description,
        planned.describe_error,
        fallback_quality=planned.primary.quality.score if planned.primary.quality else None,
    )
