"""Swapping an asset's reference image: only that asset is measured and described again.

The new photo is checked against the asset before anything is written: a character's photo must
show a face of the same person (by the face embedder's own same-person threshold), and another
asset's photo should show its detected class. A character's photo that fails is refused unless
forced; another type's is accepted with a warning, since the detector knows only 80 classes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.orm import Session, selectinload, sessionmaker

from vidpipe.db.models import Asset, AssetReference, Upload
from vidpipe.describe.describer import Describer, DescribeRequest
from vidpipe.domain.detections import Detections
from vidpipe.domain.enums import AssetSource, AssetType
from vidpipe.errors import NeedsForceError, VidpipeError
from vidpipe.imaging.loading import load_image
from vidpipe.imaging.quality import assess_crop
from vidpipe.inference.face_analysis import Face, face_crop
from vidpipe.inference.vectors import cosine_similarity, embedding_from_bytes, embedding_to_bytes
from vidpipe.pipeline import rules
from vidpipe.pipeline.descriptions import store_description
from vidpipe.pipeline.planning import user_name
from vidpipe.pipeline.toolkit import VisionToolkit
from vidpipe.storage import Store

UInt8Image = np.ndarray[Any, np.dtype[np.uint8]]
Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class SwapResult:
    asset_id: uuid.UUID
    tag: str
    name: str
    quality_score: float | None
    warnings: tuple[str, ...]
    # Best face similarity to the asset's earlier references (characters); None when not compared.
    similarity: float | None


@dataclass(frozen=True)
class _Snapshot:
    """What the checks need of the asset, read before any model runs."""

    asset_type: AssetType
    tag: str
    name: str
    detection_class: str | None
    source: AssetSource
    upload_name: str | None
    upload_id: uuid.UUID | None
    face_embeddings: tuple[bytes, ...]  # the references' embeddings by the toolkit's face embedder

    @property
    def label(self) -> str:
        return f"{self.tag} ({self.name!r})"


@dataclass
class _Choice:
    crop: UInt8Image
    box: Box
    landmarks: np.ndarray[Any, Any] | None = None
    face: Face | None = None
    detection_class: str | None = None
    similarity: float | None = None


def _prominence(box: Box, confidence: float) -> float:
    return confidence * float(np.sqrt(max(0.0, (box[2] - box[0]) * (box[3] - box[1]))))


def _snapshot(session: Session, asset: Asset, face_model: str) -> _Snapshot:
    upload = session.get(Upload, asset.upload_id) if asset.upload_id is not None else None
    return _Snapshot(
        asset_type=asset.asset_type,
        tag=asset.manifest_tag or str(asset.id),
        name=asset.name,
        detection_class=asset.detection_class,
        source=asset.source,
        upload_name=upload.name if upload is not None else None,
        upload_id=asset.upload_id,
        face_embeddings=tuple(
            r.face_embedding
            for r in asset.references
            if r.face_embedding is not None and r.face_embedding_model == face_model
        ),
    )


def _face_choice(image: UInt8Image, face: Face, similarity: float | None) -> _Choice:
    crop, (ox, oy) = face_crop(image, face.box, padding=rules.FACE_PADDING)
    landmarks = None if face.landmarks is None else face.landmarks - np.asarray([ox, oy], np.float32)
    return _Choice(np.ascontiguousarray(crop), face.box, landmarks, face, "face", similarity)


def swap_reference(
    factory: sessionmaker[Session],
    store: Store,
    toolkit: VisionToolkit,
    describer: Describer,
    asset_id: uuid.UUID,
    image_path: Path,
    *,
    force: bool = False,
) -> SwapResult:
    """Make ``image_path`` the asset's primary reference and re-describe the asset.

    A character's new reference is the face in the photo most like the faces of its references
    (with its identity embedding); it must reach the face embedder's same-person threshold, else
    the photo is refused unless ``force`` (then the most prominent face, or the whole photo, with a
    warning). Another asset's new reference is the most prominent detection of its detected class,
    padded as a run pads objects; without one, the whole photo and a warning. Tag, other
    references and a name the user gave are kept; an extracted asset's own name follows the new
    description, as a run's would. Nothing is written if the image is refused or a model fails.
    """
    image = load_image(image_path)  # refuses corrupt, empty and oversized files with a clear reason
    face_model = toolkit.faces.embedder.name
    with factory() as session:
        asset = session.get(Asset, asset_id, options=[selectinload(Asset.references)])
        if asset is None:
            raise VidpipeError(f"no asset with id {asset_id}")
        snap = _snapshot(session, asset, face_model)
    h, w = image.shape[:2]
    warnings: list[str] = []
    # Objects first, as in a run: they let the face detector drop animal faces.
    objects = toolkit.detector.detect(image)
    if snap.asset_type is AssetType.CHARACTER:
        faces = toolkit.faces.analyze(image, str(image_path), faces=toolkit.faces.detect(image, objects))
        choice = _check_character(image, image_path, faces, snap, face_model, toolkit.faces.threshold, force, warnings)
    else:
        choice = _check_object(image, image_path, objects, snap, warnings)
    box = choice.box
    quality = assess_crop(choice.crop, landmarks=choice.landmarks, is_face=choice.face is not None)
    image_vector = toolkit.embedder.embed([choice.crop])[0]
    uploaded = snap.source is AssetSource.UPLOADED
    description = describer.describe(
        DescribeRequest(
            image=choice.crop,
            asset_type=snap.asset_type,
            # As in a run: only an uploaded asset's describer is told its name (see planning.user_name).
            name=snap.name if uploaded else "",
            detection_class=choice.detection_class,
            is_face=choice.face is not None,
            landmarks=choice.landmarks,
            frame_fraction=max(1e-6, (box[2] - box[0]) * (box[3] - box[1]) / float(w * h)),
            source_size=(w, h),
        )
    )
    image_key = store.put_image(choice.crop, kind="crops", fmt="jpg")
    thumb_key = store.thumbnail(choice.crop)
    store.put_file(image_path, kind="originals")  # keep the user's original, as with uploads
    face_vector = choice.face.embedding if choice.face is not None else None
    with factory() as session, session.begin():
        asset = session.get(Asset, asset_id, options=[selectinload(Asset.references)])
        if asset is None:
            raise VidpipeError(f"asset {asset_id} was deleted while its reference was being swapped")
        upload_names = {snap.upload_id: snap.upload_name} if snap.upload_id and snap.upload_name else {}
        keep_name = uploaded or user_name(asset, upload_names) is not None
        for ref in asset.references:
            ref.sort_order += 1
        reference = AssetReference(
            sort_order=0,
            bbox=[round(v, 1) for v in box],
            image_key=image_key,
            thumbnail_key=thumb_key,
            face_embedding=embedding_to_bytes(face_vector) if face_vector is not None else None,
            face_embedding_model=face_model if face_vector is not None else None,
            image_embedding=embedding_to_bytes(image_vector),
            image_embedding_model=toolkit.embedder.name,
            quality_score=quality.score,
            origin="user",
        )
        asset.references.insert(0, reference)
        session.flush()
        asset.primary_reference = reference
        asset.is_face_crop = choice.face is not None
        store_description(asset, description)
        if not keep_name:
            asset.name = description.suggested_name  # the run's name for it follows its description
        return SwapResult(
            asset_id=asset.id,
            tag=snap.tag,
            name=asset.name,
            quality_score=asset.quality_score,
            warnings=tuple(warnings),
            similarity=choice.similarity,
        )


def _whole(image: UInt8Image) -> _Choice:
    h, w = image.shape[:2]
    return _Choice(image, (0.0, 0.0, float(w), float(h)))


def _check_object(
    image: UInt8Image, image_path: Path, objects: Detections, snap: _Snapshot, warnings: list[str]
) -> _Choice:
    """The most prominent detection of the asset's class, padded as a run pads objects; else the whole photo."""
    if snap.detection_class is None:
        return _whole(image)  # the run used the whole photo too
    found = [
        (float(objects.confidence[i]), (float(x1), float(y1), float(x2), float(y2)))
        for i, (name, (x1, y1, x2, y2)) in enumerate(zip(objects.names, objects.xyxy, strict=True))
        if name == snap.detection_class
    ]
    if not found:
        warnings.append(
            f"no {snap.detection_class} found in {image_path.name}, though {snap.label} was detected as one; "
            "the whole photo is its reference"
        )
        return _whole(image)
    _, box = max(found, key=lambda item: _prominence(item[1], item[0]))
    crop, _ = face_crop(image, box, padding=rules.OBJECT_PADDING)
    return _Choice(np.ascontiguousarray(crop), box, detection_class=snap.detection_class)


def _check_character(
    image: UInt8Image,
    image_path: Path,
    faces: list[Face],
    snap: _Snapshot,
    face_model: str,
    threshold: float,
    force: bool,
    warnings: list[str],
) -> _Choice:
    """The face of the asset's person in the photo; refuses, unless ``force``, a photo without one."""
    prominent = max(faces, key=lambda f: _prominence(f.box, f.confidence)) if faces else None
    if not snap.face_embeddings:
        # Nothing to check against (the character was never seen by face): trust the user, and say so.
        warnings.append(
            f"{snap.label} has no reference with a {face_model} face embedding to compare with, so "
            f"{image_path.name} was not checked"
        )
        return _face_choice(image, prominent, None) if prominent is not None else _whole(image)
    if prominent is None:
        if not force:
            raise NeedsForceError(
                f"no face found in {image_path.name} to compare with {snap.label} "
                f"(best similarity: none, threshold {threshold:.2f}); refused unless forced"
            )
        warnings.append(f"no face found in {image_path.name}; forced, the whole photo is the reference of {snap.label}")
        return _whole(image)
    references = np.stack([embedding_from_bytes(b) for b in snap.face_embeddings])
    similarities = cosine_similarity(np.stack([f.embedding for f in faces]), references).max(axis=1)
    best = int(np.argmax(similarities))
    similarity = float(similarities[best])
    if similarity >= threshold:
        return _face_choice(image, faces[best], similarity)
    if not force:
        raise NeedsForceError(
            f"no face in {image_path.name} looks like {snap.label}: best similarity {similarity:.2f}, "
            f"threshold {threshold:.2f}; refused unless forced"
        )
    warnings.append(
        f"no face in {image_path.name} looks like {snap.label} (best similarity {similarity:.2f}, threshold "
        f"{threshold:.2f}); forced, its most prominent face is the reference"
    )
    return _face_choice(image, prominent, similarity)
