"""Face detectors on real photos: group photos, tight chips, large canvases, no faces."""

from pathlib import Path

import numpy as np
import pytest

from vidpipe.imaging.loading import load_image
from vidpipe.inference.face_detector import create_face_detector
from vidpipe.settings import Settings

pytestmark = [pytest.mark.models, pytest.mark.data]
DETECTORS = ["scrfd_2.5g_kps", "ultraface_rfb_320"]


@pytest.mark.parametrize("model", DETECTORS)
@pytest.mark.parametrize(
    ("photo", "count"),
    [("face_recognition/two_people.jpg", 2), ("facenet_pytorch/multiface.jpg", 6), ("insightface/t1.jpg", 6)],
)
def test_group_photos(settings: Settings, data_dir: Path, model: str, photo: str, count: int) -> None:
    found = create_face_detector(model, settings=settings).detect(load_image(data_dir / "faces" / photo))
    assert len(found) == count


@pytest.mark.parametrize("model", DETECTORS)
def test_every_tight_chip_yields_its_face(settings: Settings, data_dir: Path, model: str) -> None:
    detector = create_face_detector(model, settings=settings)
    chips = sorted((data_dir / "faces/dlib_johns").glob("*/*.jpg"))
    assert len(chips) == 55
    missed = [c.name for c in chips if len(detector.detect(load_image(c))) == 0]
    assert missed == []


def test_the_padded_retry_is_what_finds_a_chip(settings: Settings, data_dir: Path) -> None:
    detector = create_face_detector("scrfd_2.5g_kps", settings=settings)
    chip = load_image(next(iter(sorted((data_dir / "faces/dlib_johns/John_Simm").glob("*.jpg")))))
    detector.pad_retry = False
    assert len(detector.detect(chip)) == 0
    detector.pad_retry = True
    found = detector.detect(chip)
    assert len(found) == 1
    x1, _, x2, _ = found.xyxy[0]
    assert x2 - x1 > 0.5 * chip.shape[1]  # the face fills the chip


def test_small_faces_in_a_large_photo_survive(settings: Settings, data_dir: Path) -> None:
    group = load_image(data_dir / "faces/facenet_pytorch/multiface.jpg")
    canvas = np.full((3000, 4800, 3), 90, np.uint8)
    canvas[1200 : 1200 + group.shape[0], 1800 : 1800 + group.shape[1]] = group
    detector = create_face_detector("ultraface_rfb_320", settings=settings)
    detector.tiling = False
    assert len(detector.detect(canvas)) < 6
    detector.tiling = True
    found = detector.detect(canvas)
    assert len(found) == 6
    assert (found.xyxy[:, 0] >= 1800).all() and (found.xyxy[:, 2] <= 1800 + group.shape[1]).all()


def test_scrfd_landmarks_lie_inside_their_faces(settings: Settings, data_dir: Path) -> None:
    found = create_face_detector("scrfd_2.5g_kps", settings=settings).detect(
        load_image(data_dir / "faces/face_recognition/two_people.jpg")
    )
    assert found.landmarks is not None and found.landmarks.shape == (2, 5, 2)
    for box, points in zip(found.xyxy, found.landmarks, strict=True):
        assert (points[:, 0] >= box[0]).all() and (points[:, 0] <= box[2]).all()
        assert (points[:, 1] >= box[1]).all() and (points[:, 1] <= box[3]).all()
        assert points[0, 0] < points[1, 0]  # left eye left of right eye, as seen


@pytest.mark.parametrize("model", DETECTORS)
def test_no_face_in_a_plain_image(settings: Settings, model: str) -> None:
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    assert len(create_face_detector(model, settings=settings).detect(noise)) == 0
