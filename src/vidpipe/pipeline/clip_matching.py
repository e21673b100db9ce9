"""Which registry assets a sampled frame shows: faces to characters by identity, objects to assets
by image similarity within compatible classes. Pure: models and a registry snapshot in, findings out.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import numpy as np

from vidpipe.domain.enums import AssetType
from vidpipe.imaging.quality import assess_crop
from vidpipe.inference.face_analysis import UInt8Image, face_crop
from vidpipe.inference.vectors import FloatArray
from vidpipe.pipeline import rules
from vidpipe.pipeline.toolkit import VisionToolkit

# A face smaller than this share of the frame's shorter side is a background extra: it neither
# matches nor counts as an unexpected person (generated crowds would otherwise fail every clip).
MIN_FACE_SHARE = 0.06
MIN_FACE_PX = 24
OBJECT_TYPES = (AssetType.OBJECT, AssetType.PROP, AssetType.VEHICLE)


@dataclass(frozen=True)
class KnownReference:
    id: uuid.UUID
    vector: FloatArray  # unit row


@dataclass(frozen=True)
class KnownAsset:
    """What matching needs of one registry asset: its references' embeddings of the models in use."""

    id: uuid.UUID
    tag: str
    name: str
    asset_type: AssetType
    detection_class: str | None
    face_refs: tuple[KnownReference, ...] = ()
    image_refs: tuple[KnownReference, ...] = ()


@dataclass(frozen=True)
class Thresholds:
    face: float  # cosine on the face embedder's scale: at or above is the same person
    image: float  # cosine on the image embedder's scale: at or above is the same object


@dataclass(frozen=True)
class Sighting:
    """A registry asset found in a frame."""

    asset_id: uuid.UUID
    tag: str
    box: tuple[float, float, float, float]
    confidence: float
    source: str  # "face_match", "clip_match" or "yolo" (class only: no comparable embedding)
    reference_id: uuid.UUID | None
    similarity: float | None
    crop: UInt8Image = field(repr=False, compare=False)
    quality: float = 0.0
    face_vector: FloatArray | None = field(default=None, repr=False, compare=False)
    image_vector: FloatArray | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Stranger:
    """A clear face that matches no character of the registry."""

    box: tuple[float, float, float, float]
    confidence: float
    best_tag: str | None
    best_similarity: float | None


@dataclass(frozen=True)
class FrameFindings:
    index: int
    seconds: float
    sightings: tuple[Sighting, ...]
    strangers: tuple[Stranger, ...]
    objects: tuple[tuple[str, tuple[float, float, float, float], float], ...]  # every detection: class, box, conf


def _best(vector: FloatArray, refs: tuple[KnownReference, ...]) -> tuple[KnownReference | None, float]:
    if not refs:
        return None, -1.0
    sims = np.stack([r.vector for r in refs]) @ vector
    i = int(np.argmax(sims))
    return refs[i], float(sims[i])


def _box(values: np.ndarray[tuple[int], np.dtype[np.float32]]) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in values)
    return (x1, y1, x2, y2)


def _compatible(class_name: str, asset: KnownAsset) -> bool:
    if asset.detection_class:
        return asset.detection_class == class_name
    return asset.asset_type in OBJECT_TYPES and rules.fits_type(class_name, asset.asset_type)


def match_frame(
    toolkit: VisionToolkit,
    image: UInt8Image,
    index: int,
    seconds: float,
    assets: list[KnownAsset],
    thresholds: Thresholds,
) -> FrameFindings:
    """Everything of the registry found in one RGB frame, and the clear faces nobody matches."""
    objects = toolkit.detector.detect(image)
    face_boxes = toolkit.faces.detect(image, objects)
    faces = toolkit.faces.analyze(image, f"frame{index}", faces=face_boxes)
    min_side = max(MIN_FACE_PX, MIN_FACE_SHARE * min(image.shape[:2]))
    sightings: list[Sighting] = []
    strangers: list[Stranger] = []

    # Faces to characters: every pair above the threshold, best first, each face and each
    # character used once (one person cannot be two characters in a frame, nor the reverse).
    characters = [a for a in assets if a.asset_type is AssetType.CHARACTER and a.face_refs]
    clear = [f for f in faces if min(f.box[2] - f.box[0], f.box[3] - f.box[1]) >= min_side]
    pairs = []
    for fi, face in enumerate(clear):
        vector = face.embedding / (np.linalg.norm(face.embedding) + 1e-12)
        for asset in characters:
            ref, sim = _best(vector, asset.face_refs)
            if ref is not None:
                pairs.append((sim, fi, asset, ref))
    pairs.sort(key=lambda p: -p[0])
    used_faces: set[int] = set()
    used_assets: set[uuid.UUID] = set()
    for sim, fi, asset, ref in pairs:
        if sim < thresholds.face or fi in used_faces or asset.id in used_assets:
            continue
        face = clear[fi]
        crop, _ = face_crop(image, face.box, padding=rules.FACE_PADDING)
        used_faces.add(fi)
        used_assets.add(asset.id)
        sightings.append(
            Sighting(
                asset_id=asset.id,
                tag=asset.tag,
                box=face.box,
                confidence=face.confidence,
                source="face_match",
                reference_id=ref.id,
                similarity=round(sim, 4),
                crop=np.ascontiguousarray(crop),
                quality=face.quality.score,
                face_vector=face.embedding,
            )
        )
    for fi, face in enumerate(clear):
        if fi in used_faces:
            continue
        nearest = max(((s, a.tag) for s, f, a, _ in pairs if f == fi), default=None)
        strangers.append(
            Stranger(
                face.box,
                face.confidence,
                nearest[1] if nearest else None,
                round(nearest[0], 4) if nearest else None,
            )
        )

    # Objects to the other assets, by image similarity within compatible classes.
    others = [a for a in assets if a.asset_type is not AssetType.CHARACTER]
    found = [(objects.names[i], _box(objects.xyxy[i]), float(objects.confidence[i])) for i in range(len(objects))]
    candidates = [(name, box, conf) for name, box, conf in found if name != "person"]
    if candidates and others:
        crops = [
            np.ascontiguousarray(face_crop(image, box, padding=rules.OBJECT_PADDING)[0]) for _, box, _ in candidates
        ]
        vectors = toolkit.embedder.embed(crops)
        taken: set[uuid.UUID] = set()
        scored: list[tuple[float | None, int, KnownAsset, KnownReference | None]] = []
        for ci, (name, _, _) in enumerate(candidates):
            for asset in others:
                if not _compatible(name, asset):
                    continue
                ref, closeness = _best(vectors[ci], asset.image_refs)
                scored.append((closeness if ref is not None else None, ci, asset, ref))
        scored.sort(key=lambda s: -(s[0] if s[0] is not None else -2.0))
        used: set[int] = set()
        for score, ci, asset, ref in scored:
            if ci in used or asset.id in taken:
                continue
            if score is not None and score < thresholds.image:
                continue
            name, box, conf = candidates[ci]
            used.add(ci)
            taken.add(asset.id)
            sightings.append(
                Sighting(
                    asset_id=asset.id,
                    tag=asset.tag,
                    box=box,
                    confidence=conf,
                    source="clip_match" if score is not None else "yolo",
                    reference_id=ref.id if ref is not None else None,
                    similarity=round(score, 4) if score is not None else None,
                    crop=crops[ci],
                    quality=assess_crop(crops[ci]).score,
                    image_vector=vectors[ci],
                )
            )
    return FrameFindings(index, seconds, tuple(sightings), tuple(strangers), tuple(found))
