"""Crops cut again from their upload after the sweep: the very pixels the sweep embedded."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest

from vidpipe.db.models import Upload
from vidpipe.domain.enums import AssetType
from vidpipe.pipeline.crop_pixels import CropPixels
from vidpipe.pipeline.photo_analysis import PhotoRef, analyze_photo
from vidpipe.pipeline.planning import crops_of
from vidpipe.pipeline.toolkit import VisionToolkit
from vidpipe.storage import FileStore

pytestmark = [pytest.mark.models, pytest.mark.data]


def test_a_recut_crop_is_exactly_the_one_the_sweep_embedded(
    toolkit: VisionToolkit, data_dir: Path, tmp_path: Path
) -> None:
    store = FileStore(tmp_path)
    pixels = CropPixels(store)
    for path in [data_dir / "faces/face_recognition/two_people.jpg", data_dir / "detection/skimage_data/coffee.png"]:
        key, sha, size = store.put_file(path, kind="originals")
        ref = PhotoRef(uuid.uuid4(), key, path.name)
        analysis = analyze_photo(ref, toolkit, store)
        upload = Upload(
            id=ref.upload_id,
            storage_key=key,
            original_filename=path.name,
            name=path.stem,
            asset_type=AssetType.OBJECT,
            sort_order=0,
            sha256=sha,
            size_bytes=size,
            width=analysis.width,
            height=analysis.height,
        )
        faces, objects, photo = crops_of(upload, analysis)
        assert objects and (faces or path.name == "coffee.png")
        for crop in [*faces, *objects, photo]:
            cut = pixels.of(crop)
            assert cut.flags.c_contiguous and cut.dtype == np.uint8
            # The embedder is deterministic: the same vector means the same pixels.
            assert crop.embedding is not None
            assert np.array_equal(toolkit.embedder.embed([cut])[0], crop.embedding), (path.name, crop.key)
        assert photo.image_key is None and pixels.of(photo).shape == (analysis.height, analysis.width, 3)
    pixels.release()
