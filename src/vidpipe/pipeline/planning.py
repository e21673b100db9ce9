"""Which crops of a run become which assets: the data of a run and the rules applied to it.

The rules themselves (classes, thresholds, tags) are in `pipeline.rules`; this module applies them
to a run's crops, pairs the result with an earlier run's assets, and obeys the user's decisions.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from vidpipe.db.models import Asset, AssetDecision, Upload
from vidpipe.describe.describer import Description
from vidpipe.domain.detections import FloatArray
from vidpipe.domain.enums import AssetSource, AssetType
from vidpipe.errors import VidpipeError
from vidpipe.imaging.quality import QualityReport
from vidpipe.inference.face_analysis import Face
from vidpipe.inference.grouping import FaceItem, group_faces
from vidpipe.inference.nms import as_boxes, box_inside, box_iou
from vidpipe.pipeline import rules
from vidpipe.pipeline.photo_analysis import PhotoAnalysis, ViewRecord

# The provenance a description the user edited by hand carries.
USER_PROVIDER = "user"


@dataclass
class Crop:
    """One candidate view: a face, a detected object or a whole photo, cut from an upload."""

    key: str
    upload: Upload
    kind: str  # "face", "object", "person" or "photo"
    box: tuple[float, float, float, float]  # the detection, in source pixels (unpadded)
    # No pixels: the padded crop's JPEG is in the store under ``image_key``, written when the crop was
    # cut; None for a whole photo, whose pixels are the upload's (stored as a crop only once used).
    image_key: str | None = None
    origin: tuple[int, int] = (0, 0)  # the padded crop's top-left corner in source pixels
    class_name: str | None = None
    confidence: float | None = None
    landmarks: FloatArray | None = None  # in crop pixels
    face: Face | None = None
    quality: QualityReport | None = None
    embedding: FloatArray | None = None
    thumbnail_key: str | None = None  # stored when the crop was found, to show it during the run

    @property
    def frame_fraction(self) -> float:
        x1, y1, x2, y2 = self.box
        return max(0.0, (x2 - x1) * (y2 - y1)) / float(self.upload.width * self.upload.height)

    @property
    def prominence(self) -> float:
        x1, y1, x2, y2 = self.box
        return (self.confidence or 1.0) * float(np.sqrt(max(0.0, (x2 - x1) * (y2 - y1))))


def crops_of(upload: Upload, analysis: PhotoAnalysis) -> tuple[list[Crop], list[Crop], Crop]:
    """A photo's record as the run's crops: (faces, objects and people, the whole photo). Keys are
    those the user's decisions and the grouping know: ``<upload>#<face>``, ``<upload>/object/<i>``."""
    faces = [_face_crop(upload, view) for view in analysis.faces]
    objects = [_crop(f"{upload.id}/object/{view.index}", upload, view) for view in analysis.objects]
    return faces, objects, _crop(f"{upload.id}/photo", upload, analysis.photo)


def _crop(key: str, upload: Upload, view: ViewRecord, face: Face | None = None) -> Crop:
    return Crop(
        key=key,
        upload=upload,
        kind=view.kind,
        box=view.box,
        image_key=view.image_key,
        origin=view.origin,
        class_name=view.class_name,
        confidence=view.confidence,
        landmarks=view.landmarks,
        face=face,
        quality=view.quality,
        embedding=view.embedding,
        thumbnail_key=view.thumbnail_key,
    )


def _face_crop(upload: Upload, view: ViewRecord) -> Crop:
    if view.face_embedding is None or view.confidence is None:
        raise VidpipeError(f"the record of a face in upload {upload.id} has no identity embedding or confidence")
    photo = str(upload.id)
    face = Face(
        key=f"{photo}#{view.index}",
        photo=photo,
        index=view.index,
        box=view.box,
        confidence=view.confidence,
        landmarks=view.face_landmarks,
        embedding=view.face_embedding,
        quality=view.quality,
    )
    return _crop(face.key, upload, view, face)


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
    user_name: str | None = None  # the name the user gave `previous`; set by `match_previous`
    wardrobe: list[str] = field(default_factory=list)  # things a character wears or carries

    @property
    def primary(self) -> Crop:
        return self.crops[0]

    @property
    def pinned(self) -> bool:
        """Whether the user gave the matched earlier asset its primary reference (`swap-reference`):
        that reference, and the description made from it, then outlive re-runs."""
        primary = self.previous.primary_reference if self.previous is not None else None
        return primary is not None and primary.upload_id is None

    @property
    def user_described(self) -> bool:
        """Whether the user wrote the matched earlier asset's description and prompt themselves:
        a run keeps their words and does not describe the asset again."""
        return self.previous is not None and self.previous.describe_provider == USER_PROVIDER


@dataclass(frozen=True)
class Decided:
    """The user's decisions (`AssetDecision` rows) found again among this run's crops, as crop keys."""

    same: tuple[tuple[str, str], ...] = ()  # (kept view, merged view)
    different: tuple[tuple[str, str], ...] = ()

    @property
    def confirmed(self) -> frozenset[str]:
        """Crops the user has judged: they stay candidates whatever their size or confidence."""
        return frozenset(k for pair in (*self.same, *self.different) for k in pair)

    def different_within(self, keys: set[str]) -> list[tuple[str, str]]:
        return [(a, b) for a, b in self.different if a in keys and b in keys]


@dataclass
class RunState:
    manifest_id: uuid.UUID
    title: str
    uploads: list[Upload]
    # Each photo's record from the detection sweep (no pixels): what every later step works from.
    analyses: dict[uuid.UUID, PhotoAnalysis] = field(default_factory=dict)
    sheet_key: str | None = None
    faces: list[Crop] = field(default_factory=list)
    objects_crops: list[Crop] = field(default_factory=list)
    photo_crops: dict[uuid.UUID, Crop] = field(default_factory=dict)
    people: list[list[Crop]] = field(default_factory=list)
    planned: list[PlannedAsset] = field(default_factory=list)
    decisions: list[AssetDecision] = field(default_factory=list)
    decided: Decided = field(default_factory=lambda: Decided())
    previous: list[Asset] = field(default_factory=list)
    dismissed: list[tuple[uuid.UUID, list[float]]] = field(default_factory=list)  # (upload, box): no asset
    chosen: list[tuple[uuid.UUID, list[float]]] = field(default_factory=list)  # (upload, box): a primary
    seconds: dict[str, float] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)


def bbox_iou(a: Sequence[float], b: Sequence[float] | None) -> float:
    """IoU of two x1, y1, x2, y2 boxes; 0 when the second is missing."""
    if b is None:
        return 0.0
    return float(box_iou(np.asarray([a], np.float32), np.asarray([b], np.float32))[0, 0])


# A decision's view is found again in a re-run's crop of the same upload at least this similar in place.
SAME_VIEW_IOU = 0.5


def locate(upload_id: uuid.UUID, bbox: Sequence[float], crops: Sequence[Crop]) -> Crop | None:
    """The crop of ``upload_id`` that overlaps ``bbox`` most (IoU ≥ SAME_VIEW_IOU), earlier crops on ties."""
    best, best_iou = None, SAME_VIEW_IOU - 1e-9
    for crop in crops:
        if crop.upload.id != upload_id:
            continue
        iou = bbox_iou(crop.box, bbox)
        if iou > best_iou:
            best, best_iou = crop, iou
    return best


def resolve_decisions(decisions: Sequence[AssetDecision], crops: Sequence[Crop]) -> Decided:
    """Turn decision rows into pairs of crop keys; a view no longer found is left out (the photo
    changed or the detector no longer sees it), so a stale decision never fails a run."""
    same: list[tuple[str, str]] = []
    different: list[tuple[str, str]] = []
    for row in decisions:
        a = locate(row.upload_a_id, row.bbox_a, crops)
        b = locate(row.upload_b_id, row.bbox_b, crops)
        if a is None or b is None or a.key == b.key:
            continue
        (same if row.same else different).append((a.key, b.key))
    return Decided(same=tuple(same), different=tuple(different))


def merge_decided(planned: list[PlannedAsset], decided: Decided) -> list[PlannedAsset]:
    """Join planned assets the user merged: the asset holding the kept view absorbs the other's
    views, in the order the decisions were made. A join that would put two views the user called
    different into one asset is skipped (the later decision, recorded as different, wins)."""
    owner = {c.key: i for i, a in enumerate(planned) for c in a.crops}
    apart = {frozenset(pair) for pair in decided.different}
    gone: set[int] = set()
    for kept, merged in decided.same:
        if kept not in owner or merged not in owner or owner[kept] == owner[merged]:
            continue
        a, b = planned[owner[kept]], planned[owner[merged]]
        if any(frozenset((x.key, y.key)) in apart for x in a.crops for y in b.crops):
            continue
        have = {c.key for c in a.crops}
        a.crops.extend(c for c in b.crops if c.key not in have)
        gone.add(owner[merged])
        for c in b.crops:
            owner[c.key] = owner[kept]
    return [a for i, a in enumerate(planned) if i not in gone]


def match_previous(planned: list[PlannedAsset], previous: list[Asset]) -> None:
    """Pair each planned asset with the asset of an earlier run that shows the same thing.

    Same type, and at least one reference cut from the same photo at nearly the same place;
    the pair sharing the most such references wins. Matched assets keep their tags and ids, and
    a name the user gave them (`user_name`).
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
                if ref.upload_id == crop.upload.id and bbox_iou(crop.box, ref.bbox) >= SAME_VIEW_IOU
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
    upload_names = {crop.upload.id: crop.upload.name for plan in planned for crop in plan.crops}
    for plan in planned:
        earlier = plan.previous
        if earlier is None:
            continue
        plan.user_name = user_name(earlier, upload_names)
        if plan.user_name is not None:
            # Set before describing, so an uploaded asset's describer is told the user's name and
            # the row is written with it (the run writes an uploaded plan's name as it stands).
            plan.name = plan.user_name
        elif plan.pinned and plan.source is not AssetSource.UPLOADED:
            # Not described again: it keeps the suggestion of the description made from the pinned reference.
            plan.name = earlier.suggested_name or earlier.name


def user_name(old: Asset, upload_names: Mapping[uuid.UUID, str]) -> str | None:
    """The name the user gave the earlier asset ``old``, or None where its name is the run's own.

    A run names an uploaded asset after its upload and an extracted one after its describer's
    suggestion, made without any name (so that the two stay told apart). Any other name is the
    user's (`rename` of an extracted asset, `split --name`) and outlives every run, whatever the
    run now plans the asset as: a split-off view that is a CHARACTER photo's own face is planned
    as that upload's asset. `rename` of an uploaded asset renames its upload as well, so the run's
    own rule gives the user's name back and nothing needs keeping. ``upload_names`` maps upload
    ids to the uploads' names; an upload not in it (removed) tells nothing.
    """
    if old.source is AssetSource.UPLOADED:
        upload_name = upload_names.get(old.upload_id) if old.upload_id is not None else None
        return old.name if upload_name is not None and old.name != upload_name else None
    # Without a suggestion (the description failed) a user's name cannot be told from the run's
    # fallback; keeping both is the safe side: losing a user's name is the worse mistake.
    return old.name if old.name != old.suggested_name else None


def _first_in_photos(crop: Crop) -> tuple[int, float, float]:
    """Breaks ties in favour of the earlier photo, then the higher and further-left view: never by
    the crops' keys, which hold random ids, so that the same photos always give the same choice."""
    place = _place(crop)
    return (-place[0], -place[1], -place[2])


def _central_prominence(crop: Crop) -> float:
    """Size times closeness to the photo's centre: the face a portrait is about (the person the
    user named stands in the middle; a bigger face at the edge is someone beside them)."""
    x1, y1, x2, y2 = crop.box
    w, h = crop.upload.width, crop.upload.height
    dx, dy = (x1 + x2) / 2 - w / 2, (y1 + y2) / 2 - h / 2
    closeness = 1.0 - min(1.0, float(np.hypot(dx, dy) / (0.5 * np.hypot(w, h))))
    return float(crop.prominence * closeness)


def _named_face(upload: Upload, faces: list[Crop], state: RunState, person_of: dict[str, int]) -> Crop:
    """The face a CHARACTER photo's name belongs to: the one whose identity is also in the other
    CHARACTER photos of the same name, else the most central and prominent one."""
    others = {
        person_of[f.key]
        for f in state.faces
        if f.upload.id != upload.id
        and f.upload.asset_type is AssetType.CHARACTER
        and f.upload.name.strip().lower() == upload.name.strip().lower()
        and f.key in person_of
    }
    known = [f for f in faces if person_of.get(f.key) in others]
    return max(known or faces, key=lambda c: (_central_prominence(c), _first_in_photos(c)))


def _best(crops: list[Crop]) -> Crop:
    return max(crops, key=lambda c: (c.prominence, _first_in_photos(c)))


def plan_assets(state: RunState, same_object_threshold: float) -> list[PlannedAsset]:
    """Apply the rules in ``pipeline.rules`` to the crops of a run, then the user's decisions."""
    planned: list[PlannedAsset] = []
    person_of = {c.key: n for n, person in enumerate(state.people) for c in person}

    def dismissed(crop: Crop) -> bool:
        # The user deleted the extracted asset this view belonged to.
        return any(u == crop.upload.id and bbox_iou(crop.box, box) >= SAME_VIEW_IOU for u, box in state.dismissed)

    confirmed = state.decided.confirmed
    people_assets: dict[int, PlannedAsset] = {}
    primary_objects: dict[uuid.UUID, Crop] = {}

    for upload in state.uploads:
        faces = [c for c in state.faces if c.upload.id == upload.id]
        objects = [c for c in state.objects_crops if c.upload.id == upload.id]
        if upload.asset_type is AssetType.CHARACTER:
            if faces:
                person = person_of[_named_face(upload, faces, state, person_of).key]
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
        members = [c for c in members if not dismissed(c)]
        clear = [
            c
            for c in members
            if min(c.box[2] - c.box[0], c.box[3] - c.box[1]) >= rules.EXTRACT_FACE_MIN_SIDE_PX or c.key in confirmed
        ]
        if not clear:
            continue
        best = max(clear, key=lambda c: (c.quality.score if c.quality else 0.0, _first_in_photos(c)))
        crops = [best, *[c for c in members if c is not best]]
        planned.append(PlannedAsset(AssetType.CHARACTER, "Person", AssetSource.EXTRACTED, crops))

    # Objects: the same object across photos becomes one asset (same class, similar embedding).
    primary_keys = {c.key for c in primary_objects.values()}
    by_primary = {a.primary.key: a for a in planned if a.primary.key in primary_keys}
    worn = _worn_by(state, planned, keep=primary_keys | confirmed)
    candidates = [
        c
        for c in state.objects_crops
        if c.kind == "object"
        and c.key not in worn
        and (c.key in by_primary or c.key in confirmed or c.frame_fraction < rules.SETTING_MIN_AREA_FRACTION)
        and (c.key in by_primary or not dismissed(c))
        and (
            c.key in by_primary
            or c.key in confirmed
            or (
                (c.confidence or 0.0) >= rules.EXTRACT_MIN_CONFIDENCE
                and min(c.box[2] - c.box[0], c.box[3] - c.box[1]) >= rules.EXTRACT_MIN_SIDE_PX
                and c.frame_fraction >= rules.EXTRACT_MIN_AREA_FRACTION
            )
        )
    ]
    for class_name in sorted({c.class_name or "" for c in candidates}):
        same_class = [c for c in candidates if c.class_name == class_name]
        # Each crop is its own "photo" here: unlike two faces, two near-identical things in one
        # photo (a pair of glasses on a table) are one asset for a production.
        items = [
            FaceItem(key=c.key, photo=c.key, embedding=c.embedding, quality=c.prominence)
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
        ] + state.decided.different_within({it.key for it in items})
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
    return in_reading_order(chosen_first(merge_decided(planned, state.decided), state.chosen))


def chosen_first(planned: list[PlannedAsset], chosen: Sequence[tuple[uuid.UUID, list[float]]]) -> list[PlannedAsset]:
    """Each asset's view that the user chose as its primary (found again by place) goes first."""
    for asset in planned:
        pick = next(
            (
                c
                for c in asset.crops[1:]
                if any(u == c.upload.id and bbox_iou(c.box, box) >= SAME_VIEW_IOU for u, box in chosen)
            ),
            None,
        )
        if pick is not None:
            asset.crops.remove(pick)
            asset.crops.insert(0, pick)
    return planned


def _inside(inner: Sequence[float], outer: Sequence[float]) -> float:
    """The share of ``inner``'s box that lies inside ``outer``."""
    return float(box_inside(as_boxes(inner), as_boxes(outer))[0, 0])


def _worn_by(state: RunState, planned: list[PlannedAsset], keep: set[str] | frozenset[str]) -> set[str]:
    """Keys of worn or carried things (inside a person's box) that are wardrobe, not assets; each is
    added to the wardrobe of the character whose face is inside that person's box. ``keep`` are
    crops that stay candidates anyway (the subject of the user's photo, or judged by the user)."""
    character_of = {c.key: a for a in planned if a.asset_type is AssetType.CHARACTER for c in a.crops}
    worn: set[str] = set()
    for crop in state.objects_crops:
        if crop.kind != "object" or crop.class_name not in rules.WORN_CLASSES or crop.key in keep:
            continue
        people = [c for c in state.objects_crops if c.upload.id == crop.upload.id and c.kind == "person"]
        holder = max(people, key=lambda p: _inside(crop.box, p.box), default=None)
        if holder is None or _inside(crop.box, holder.box) < rules.WORN_INSIDE_PERSON:
            continue
        worn.add(crop.key)
        faces = [f for f in state.faces if f.upload.id == crop.upload.id and _inside(f.box, holder.box) >= 0.8]
        owner = next((character_of[f.key] for f in faces if f.key in character_of), None)
        owner = owner or character_of.get(holder.key)
        if owner is not None and crop.class_name and crop.class_name not in owner.wardrobe:
            owner.wardrobe.append(crop.class_name)
    return worn


def _place(crop: Crop) -> tuple[int, float, float]:
    return (crop.upload.sort_order, crop.box[1], crop.box[0])


def in_reading_order(planned: list[PlannedAsset]) -> list[PlannedAsset]:
    """Assets and their references in an order that depends only on the photos, never on the random
    ids the grouping saw: uploaded assets in upload order, then extracted ones by the photo and the
    place (top, then left) of their primary view; each asset's other views likewise. New tags are
    numbered in this order, so the same photos always get the same tags."""
    for asset in planned:
        asset.crops[1:] = sorted(asset.crops[1:], key=_place)
    return sorted(
        planned,
        key=lambda a: (
            a.source is AssetSource.EXTRACTED,
            _place(a.primary) if a.source is AssetSource.EXTRACTED else (0, 0.0, 0.0),
        ),
    )
