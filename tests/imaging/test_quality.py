from pathlib import Path

import cv2
import numpy as np
import pytest

from vidpipe.imaging.loading import load_image
from vidpipe.imaging.quality import assess_crop, pose_score

FRONTAL = np.array([[30, 40], [70, 40], [50, 60], [35, 80], [65, 80]], np.float32)


@pytest.mark.data
def test_blur_darkness_and_size_lower_the_score(data_dir: Path) -> None:
    image = load_image(data_dir / "detection/skimage_data/astronaut.png")
    sharp = assess_crop(image)
    blurred = assess_crop(cv2.GaussianBlur(image, (0, 0), 3))
    dark = assess_crop((image * 0.1).astype(np.uint8))
    tiny = assess_crop(cv2.resize(image, (24, 24), interpolation=cv2.INTER_AREA))
    assert sharp.score > blurred.score and blurred.sharpness < 0.5 and "blurry" in blurred.reasons
    assert dark.exposure < sharp.exposure and "underexposed" in dark.reasons
    assert tiny.size < sharp.size and "small" in tiny.reasons
    for report in (sharp, blurred, dark, tiny):
        assert 1.0 <= report.score <= 10.0


def test_pose_frontal_beats_turned_and_tilted() -> None:
    turned = FRONTAL.copy()
    turned[2, 0] = 68  # nose tip near the right eye: head turned
    angle = np.deg2rad(40)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]], np.float32)
    tilted = (FRONTAL - 50) @ rot.T + 50
    assert pose_score(FRONTAL) == pytest.approx(1.0)
    assert pose_score(turned) < 0.3 < pose_score(tilted) < 1.0
    face = np.random.default_rng(0).integers(0, 255, (120, 120, 3), dtype=np.uint8)
    assert (
        assess_crop(face, landmarks=FRONTAL, is_face=True).score
        > assess_crop(face, landmarks=turned, is_face=True).score
    )


def test_faces_need_fewer_pixels_than_objects() -> None:
    crop = np.random.default_rng(1).integers(0, 255, (112, 112, 3), dtype=np.uint8)
    assert assess_crop(crop, is_face=True).size == 1.0 and assess_crop(crop).size == pytest.approx(0.5)


@pytest.mark.parametrize(
    "crop",
    [np.full((50, 50, 3), 128, np.uint8), np.zeros((0, 10, 3), np.uint8), np.zeros((1, 1, 3), np.uint8)],
)
def test_degenerate_crops_do_not_crash(crop: np.ndarray) -> None:
    report = assess_crop(crop)
    assert 1.0 <= report.score <= 10.0
