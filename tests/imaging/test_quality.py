from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from vidpipe.imaging.loading import load_image
from vidpipe.imaging.quality import assess_crop, pose_score, sharpness_score

Image = np.ndarray[Any, Any]
PHOTOS = ("astronaut.png", "camera.png", "chelsea.png", "coffee.png", "motorcycle_left.png", "rocket.jpg")
FRONTAL = np.array([[30, 40], [70, 40], [50, 60], [35, 80], [65, 80]], np.float32)


def _blur(image: Image, sigma: float) -> Image:
    return cv2.GaussianBlur(image, (0, 0), sigma)


def _face_chips(data_dir: Path) -> list[Image]:
    """One 150 px face chip of each of the five people in dlib's "johns" set."""
    folders = sorted(p for p in (data_dir / "faces" / "dlib_johns").iterdir() if p.is_dir())
    return [load_image(sorted(folder.glob("*.jpg"))[0]) for folder in folders]


@pytest.mark.data
@pytest.mark.parametrize("name", PHOTOS)
def test_a_sharp_photo_beats_its_blurred_copy(photo: Callable[[str], Image], name: str) -> None:
    image = photo(name)
    sharp = assess_crop(image)
    blurred = assess_crop(_blur(image, 3))
    assert sharp.sharpness >= 0.8 and "blurry" not in sharp.reasons
    assert blurred.sharpness < 0.5 and "blurry" in blurred.reasons
    assert sharp.score > blurred.score


@pytest.mark.data
def test_face_chips_sharp_beats_blurred(data_dir: Path) -> None:
    for chip in _face_chips(data_dir):
        sharp = assess_crop(chip, is_face=True)
        blurred = assess_crop(_blur(chip, 1.5), is_face=True)
        assert sharp.sharpness > blurred.sharpness and sharp.score > blurred.score
        assert "blurry" in blurred.reasons
        # Faces have less fine detail than objects: the face scale credits the same crop more.
        assert sharp.sharpness >= assess_crop(chip).sharpness


@pytest.mark.data
def test_sharpness_does_not_reward_resolution(data_dir: Path) -> None:
    """One photo at four resolutions: the larger files are not called sharper for their pixels."""
    folder = data_dir / "faces" / "face_recognition"
    measured = {}
    for name in ("obama-480p.jpg", "obama-720p.jpg", "obama-1080p.jpg"):
        gray = cv2.cvtColor(load_image(folder / name), cv2.COLOR_RGB2GRAY)
        measured[name] = sharpness_score(gray, scale=2000.0)  # a large scale: no saturation
    assert max(measured.values()) - min(measured.values()) < 0.1, measured
    assert measured["obama-1080p.jpg"] <= measured["obama-480p.jpg"] + 0.02, measured


@pytest.mark.data
def test_darkened_and_brightened_copies_lose_exposure(photo: Callable[[str], Image]) -> None:
    image = photo("astronaut.png")
    normal = assess_crop(image)
    dark = assess_crop((image * 0.1).astype(np.uint8))
    bright = assess_crop(np.clip(image.astype(np.float32) * 3.0, 0, 255).astype(np.uint8))
    assert normal.exposure >= 0.9 and not {"underexposed", "overexposed"} & set(normal.reasons)
    assert dark.exposure < normal.exposure and "underexposed" in dark.reasons
    assert bright.exposure < normal.exposure and "overexposed" in bright.reasons
    assert dark.score < normal.score and bright.score < normal.score


@pytest.mark.data
def test_small_crops_lose_size(photo: Callable[[str], Image]) -> None:
    image = photo("astronaut.png")
    big = assess_crop(cv2.resize(image, (300, 300), interpolation=cv2.INTER_AREA))
    tiny = assess_crop(cv2.resize(image, (24, 24), interpolation=cv2.INTER_AREA))
    assert big.size == 1.0 and tiny.size < big.size and "small" in tiny.reasons
    assert tiny.score < big.score


def test_faces_need_fewer_pixels_than_objects() -> None:
    crop = np.random.default_rng(1).integers(0, 255, (112, 112, 3), dtype=np.uint8)
    assert assess_crop(crop, is_face=True).size == 1.0 and assess_crop(crop).size == pytest.approx(0.5)


def test_pose_frontal_beats_turned_and_tilted() -> None:
    turned = FRONTAL.copy()
    turned[2, 0] = 68  # nose tip near the right eye: head turned
    half_turned = FRONTAL.copy()
    half_turned[2, 0] = 60
    angle = np.deg2rad(40)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]], np.float32)
    tilted = (FRONTAL - 50) @ rot.T + 50
    assert pose_score(FRONTAL) == pytest.approx(1.0)
    assert pose_score(turned) < pose_score(half_turned) < pose_score(FRONTAL)
    assert pose_score(turned) < 0.3 < pose_score(tilted) < 1.0
    assert pose_score(FRONTAL[:, ::-1] * [1, -1]) < 0.6  # face on its side: eye line vertical

    face = np.random.default_rng(0).integers(0, 255, (120, 120, 3), dtype=np.uint8)
    frontal_report = assess_crop(face, landmarks=FRONTAL, is_face=True)
    turned_report = assess_crop(face, landmarks=turned, is_face=True)
    assert frontal_report.pose == pytest.approx(1.0) and frontal_report.score > turned_report.score
    assert "turned away" in turned_report.reasons and "turned away" not in frontal_report.reasons
    assert assess_crop(face, is_face=True).pose is None


def test_bad_landmarks_give_zero_pose_not_nan() -> None:
    face = np.full((120, 120, 3), 128, np.uint8)
    for landmarks in (np.full((5, 2), np.nan, np.float32), np.zeros((5, 2), np.float32)):
        report = assess_crop(face, landmarks=landmarks, is_face=True)
        assert report.pose == 0.0 and 1.0 <= report.score <= 10.0
    with pytest.raises(ValueError, match="landmarks"):
        assess_crop(face, landmarks=np.zeros((5, 3), np.float32), is_face=True)


def test_constant_grey_does_not_crash_and_is_blurry() -> None:
    report = assess_crop(np.full((200, 200, 3), 128, np.uint8))
    assert report.sharpness == 0.0 and "blurry" in report.reasons
    assert report.exposure == 1.0 and 1.0 <= report.score <= 10.0


def test_one_fatal_flaw_sinks_the_score() -> None:
    # Large and perfectly exposed, but with nothing in it: no use as a reference.
    blank = assess_crop(np.full((400, 400, 3), 128, np.uint8))
    assert blank.size == 1.0 and blank.exposure == 1.0
    assert blank.score <= 1.5, blank


@pytest.mark.parametrize(
    "crop",
    [
        np.full((50, 50, 3), 128, np.uint8),
        np.zeros((0, 10, 3), np.uint8),
        np.zeros((1, 1, 3), np.uint8),
        np.full((2, 400, 3), 255, np.uint8),
        np.full((30, 40), 70, np.uint8),  # gray
        np.full((30, 40, 4), 70, np.uint8),  # RGBA
    ],
)
def test_degenerate_crops_do_not_crash(crop: Image) -> None:
    report = assess_crop(crop)
    assert 1.0 <= report.score <= 10.0


def test_non_uint8_crops_are_refused() -> None:
    with pytest.raises(ValueError, match="uint8"):
        assess_crop(np.zeros((10, 10, 3), np.float32))


@pytest.mark.data
def test_score_stays_within_1_and_10(photo: Callable[[str], Image], data_dir: Path) -> None:
    rng = np.random.default_rng(3)
    images = [photo(name) for name in PHOTOS] + _face_chips(data_dir)
    variants: list[Image] = [rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)]
    for image in images:
        variants += [
            image,
            _blur(image, 8),
            (image * 0.02).astype(np.uint8),
            np.clip(image.astype(np.float32) * 6, 0, 255).astype(np.uint8),
            cv2.resize(image, (8, 8), interpolation=cv2.INTER_AREA),
        ]
    for crop in variants:
        for is_face, landmarks in ((False, None), (True, None), (True, FRONTAL)):
            report = assess_crop(crop, landmarks=landmarks, is_face=is_face)
            assert 1.0 <= report.score <= 10.0 and report.score == round(report.score, 1)
            parts = [report.sharpness, report.exposure, report.size] + ([report.pose] if report.pose else [])
            assert all(0.0 <= p <= 1.0 for p in parts)
