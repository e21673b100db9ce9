"""Swapping an asset's reference image: only that asset is measured and described again."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session, selectinload, sessionmaker

from vidpipe.db.models import Asset, AssetReference
from vidpipe.describe.describer import Describer, DescribeRequest
from vidpipe.domain.enums import AssetType
from vidpipe.errors import VidpipeError
from vidpipe.imaging.loading import load_image
from vidpipe.imaging.quality import assess_crop
from vidpipe.inference.face_analysis import face_crop
from vidpipe.inference.vectors import embedding_to_bytes
from vidpipe.pipeline import rules
from vidpipe.pipeline.descriptions import store_description
from vidpipe.pipeline.toolkit import VisionToolkit
from vidpipe.storage import FileStore


def swap_reference(
    factory: sessionmaker[Session],
    store: FileStore,
    toolkit: VisionToolkit,
    describer: Describer,
    asset_id: uuid.UUID,
    image_path: Path,
) -> Asset:
    """Make ``image_path`` the asset's primary reference and re-describe the asset.

    A character's new reference is its most prominent face (with its identity embedding); other
    types use the whole image. Tag, name and the other references are kept. Nothing is written if
    the image is refused or a model fails.
    """
    image = load_image(image_path)  # refuses corrupt, empty and oversized files with a clear reason
    with factory() as session:
        asset = session.get(Asset, asset_id, options=[selectinload(Asset.references)])
        if asset is None:
            raise VidpipeError(f"no asset with id {asset_id}")
        asset_type, name = asset.asset_type, asset.name
    h, w = image.shape[:2]
    crop, box, landmarks, face_vector, is_face = image, (0.0, 0.0, float(w), float(h)), None, None, False
    if asset_type is AssetType.CHARACTER:
        faces = toolkit.faces.analyze(image, str(image_path))
        if faces:
            face = max(faces, key=lambda f: f.confidence * np.sqrt((f.box[2] - f.box[0]) * (f.box[3] - f.box[1])))
            crop, (ox, oy) = face_crop(image, face.box, padding=rules.FACE_PADDING)
            crop = np.ascontiguousarray(crop)
            box, face_vector, is_face = face.box, face.embedding, True
            landmarks = None if face.landmarks is None else face.landmarks - np.asarray([ox, oy], np.float32)
    quality = assess_crop(crop, landmarks=landmarks, is_face=is_face)
    image_vector = toolkit.embedder.embed([crop])[0]
    description = describer.describe(
        DescribeRequest(
            image=crop,
            asset_type=asset_type,
            name=name,
            is_face=is_face,
            landmarks=landmarks,
            frame_fraction=max(1e-6, (box[2] - box[0]) * (box[3] - box[1]) / float(w * h)),
            source_size=(w, h),
        )
    )
    image_key = store.put_image(crop, kind="crops", fmt="jpg")
    thumb_key = store.thumbnail(crop)
    store.put_file(image_path, kind="originals")  # keep the user's original, as with uploads
    with factory() as session, session.begin():
        asset = session.get(Asset, asset_id, options=[selectinload(Asset.references)])
        if asset is None:
            raise VidpipeError(f"asset {asset_id} was deleted while its reference was being swapped")
        for ref in asset.references:
            ref.sort_order += 1
        reference = AssetReference(
            sort_order=0,
            bbox=[round(v, 1) for v in box],
            image_key=image_key,
            thumbnail_key=thumb_key,
            face_embedding=embedding_to_bytes(face_vector) if face_vector is not None else None,
            face_embedding_model=toolkit.faces.embedder.name if face_vector is not None else None,
            image_embedding=embedding_to_bytes(image_vector),
            image_embedding_model=toolkit.embedder.name,
            quality_score=quality.score,
        )
        asset.references.insert(0, reference)
        session.flush()
        asset.primary_reference = reference
        asset.is_face_crop = is_face
        store_description(asset, description)
    return asset
