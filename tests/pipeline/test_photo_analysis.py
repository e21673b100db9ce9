"""One photo's analysis on real photos and models: its record, what it stores, and its JSON round trip."""

from __future__ import annotations

import dataclasses
import json
import uuid
from pathlib import Path

import numpy as np
import pytest

from vidpipe.imaging.loading import load_image
from vidpipe.inference.face_analysis import FaceAnalyzer
from vidpipe.pipeline.photo_analysis import (
    TILE_SIDE,
    PhotoAnalysis,
    PhotoRef,
    ViewRecord,
    analyze_photo,
    cut_view,
)
from vidpipe.pipeline.toolkit import VisionToolkit
from vidpipe.settings import Settings
from vidpipe.storage import FileStore

pytestmark = [pytest.mark.models, pytest.mark.data]


def _ref(store: FileStore, path: Path) -> PhotoRef:
    key, _, _ = store.put_file(path, kind="originals")
    return PhotoRef(uuid.uuid4(), key, path.name)


def _views(record: PhotoAnalysis) -> list[ViewRecord]:
    return [*record.faces, *record.objects, record.photo]


def _files(store: FileStore) -> set[Path]:
    return {p for p in store.root.rglob("*") if p.is_file()}


@dataclasses.dataclass(frozen=True)
class Analysed:
    store: FileStore
    ref: PhotoRef
    record: PhotoAnalysis
    tools: VisionToolkit


@pytest.fixture(params=["ultraface_rfb_320", "scrfd_2.5g_kps"])
def press_room(
    request: pytest.FixtureRequest, toolkit: VisionToolkit, settings: Settings, data_dir: Path, tmp_path: Path
) -> Analysed:
    """Two men at a press conference: faces, people and ties; with the default face detector
    (no landmarks) and one that finds landmarks."""
    faces = FaceAnalyzer(request.param, toolkit.faces.embedder, settings=settings)
    tools = dataclasses.replace(toolkit, faces=faces)
    store = FileStore(tmp_path / "store")
    ref = _ref(store, data_dir / "faces/face_recognition/two_people.jpg")
    return Analysed(store, ref, analyze_photo(ref, tools, store), tools)


def test_a_record_survives_json_exactly(press_room: Analysed) -> None:
    ref, record = press_room.ref, press_room.record
    assert len(record.faces) == 2 and {v.kind for v in record.objects} >= {"person", "object"}
    text = record.to_json()
    json.loads(text)  # plain JSON: another process can send it back
    again = PhotoAnalysis.from_json(text)
    assert again.to_json() == text
    assert (again.upload_id, again.width, again.height, again.tile_key) == (
        ref.upload_id,
        record.width,
        record.height,
        record.tile_key,
    )
    for before, after in zip(_views(record), _views(again), strict=True):
        for field in dataclasses.fields(ViewRecord):
            a, b = getattr(before, field.name), getattr(after, field.name)
            if isinstance(a, np.ndarray):
                assert isinstance(b, np.ndarray) and b.dtype == np.float32 and np.array_equal(a, b), field.name
            else:
                assert a == b and type(a) is type(b), field.name
    assert all(v.face_embedding is not None for v in again.faces)
    with_points = [v for v in again.faces if v.landmarks is not None]
    # UltraFace finds no landmarks; SCRFD finds five per face.
    assert len(with_points) == (len(again.faces) if press_room.tools.faces.detector.name.startswith("scrfd") else 0)
    for view in with_points:
        assert view.face_landmarks is not None and view.landmarks is not None and view.landmarks.shape == (5, 2)
        # Landmarks in crop pixels are those in photo pixels moved by the crop's origin.
        assert np.allclose(view.landmarks + np.asarray(view.origin, np.float32), view.face_landmarks)


def test_a_record_from_another_version_is_refused(press_room: Analysed) -> None:
    data = json.loads(press_room.record.to_json())
    data["version"] = 0
    with pytest.raises(ValueError, match="version 0"):
        PhotoAnalysis.from_json(json.dumps(data))


def test_a_record_holds_no_pixels_and_names_stored_files(press_room: Analysed) -> None:
    store, ref, record = press_room.store, press_room.ref, press_room.record
    photo = load_image(store.read_bytes(ref.storage_key))
    assert (record.height, record.width) == photo.shape[:2]
    for view in _views(record):
        arrays = [v for v in vars(view).values() if isinstance(v, np.ndarray)]
        assert all(a.ndim <= 2 and a.size <= 4096 for a in arrays), view.kind  # vectors and points only
        assert store.exists(view.thumbnail_key)
        if view.kind == "photo":
            assert view.image_key is None  # the upload is its pixels
            continue
        assert view.image_key is not None
        stored = load_image(store.read_bytes(view.image_key))
        cut = cut_view(photo, view.kind, view.box)
        # The stored JPEG is the crop the analysis cut, and `cut_view` cuts it again the same way.
        assert stored.shape == cut.shape
        assert np.abs(stored.astype(np.int16) - cut).mean() < 4
        assert (view.origin[0], view.origin[1]) <= (view.box[0], view.box[1])
    tile = load_image(store.read_bytes(record.tile_key))
    assert max(tile.shape[:2]) == min(TILE_SIDE, max(photo.shape[:2]))


def test_analysing_a_photo_again_writes_nothing_new(press_room: Analysed) -> None:
    store, ref, record = press_room.store, press_room.ref, press_room.record
    files = _files(store)
    assert len(files) > 2 * len(_views(record))  # the original, each view's crop and thumbnail, the tile
    again = analyze_photo(ref, press_room.tools, store)
    assert _files(store) == files
    assert again.to_json() == record.to_json()
