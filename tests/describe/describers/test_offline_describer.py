"""The offline describer on real photos with the real ImageNet weights (and rapidocr where installed)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from vidpipe.describe.describer import DescribeRequest, Description
from vidpipe.describe.describers.offline import (
    OfflineDescriber,
    colour_name,
    face_pose,
    measure_palette,
    refines,
)
from vidpipe.domain.enums import AssetType
from vidpipe.inference.classifier import ImageNetClassifier
from vidpipe.settings import Settings

Photo = Callable[[str], np.ndarray]
HAS_OCR = importlib.util.find_spec("rapidocr_onnxruntime") is not None
CATS = ("tabby", "tiger cat", "Egyptian cat", "Persian cat", "Siamese cat", "cat")


@pytest.fixture(scope="module")
def describer(settings: Settings) -> OfflineDescriber:
    return OfflineDescriber(ImageNetClassifier(settings=settings), ocr=False)


def text_of(description: Description) -> str:
    return f"{description.reverse_prompt} {description.visual_description}"


def red() -> np.ndarray:
    return np.full((200, 200, 3), (255, 0, 0), np.uint8)


# -- without models


def cv2_lab(rgb: tuple[int, int, int]) -> np.ndarray:
    return np.asarray(cv2.cvtColor(np.array([[rgb]], np.float32) / 255.0, cv2.COLOR_RGB2Lab)[0, 0], np.float32)


def test_colour_names_are_perceptual() -> None:
    def name(rgb: tuple[int, int, int]) -> str:
        return colour_name(np.asarray(cv2_lab(rgb)))

    assert name((255, 0, 0)) == "red"
    assert name((0, 0, 0)) == "black"
    assert name((255, 255, 255)) == "white"
    assert name((0, 0, 255)) == "blue"
    assert name((128, 128, 128)) == "grey"


def test_palette_shares_and_background() -> None:
    image = np.full((120, 120, 3), 255, np.uint8)
    image[30:90, 30:90] = (20, 30, 200)  # a blue square, 25% of the crop, on white
    palette = measure_palette(image)
    shares = {s.name: s.share for s in palette.swatches}
    assert set(shares) == {"white", "blue"}
    assert shares["blue"] == pytest.approx(0.25, abs=0.05)
    assert palette.subject == "blue" and palette.background == "white" and palette.background_plain


def test_face_pose_words() -> None:
    frontal = np.array([[30, 40], [70, 40], [50, 60], [35, 80], [65, 80]], np.float64)
    assert face_pose(frontal) == ("frontal",)
    turned = frontal.copy()
    turned[2, 0] = 38  # nose tip near the left eye
    assert face_pose(turned)[0].startswith("three-quarter")
    profile = frontal.copy()
    profile[2, 0] = 20
    assert face_pose(profile)[0].startswith("profile")
    tilted = frontal.copy()
    tilted[1, 1] = 60  # right eye 20 px lower: about 27° of roll
    assert any("tilted" in word for word in face_pose(tilted))


def test_without_classifier_or_ocr_it_still_describes() -> None:
    description = OfflineDescriber(None, ocr=False).describe(DescribeRequest(red(), AssetType.VEHICLE))
    assert description.model == "offline(pixels-only)"
    assert description.suggested_name == "Red Vehicle"
    assert "red" in description.reverse_prompt


# -- with the real ImageNet weights


@pytest.mark.models
def test_coffee_mentions_espresso_or_cup(describer: OfflineDescriber, photo: Photo) -> None:
    description = describer.describe(DescribeRequest(photo("coffee.png"), AssetType.OBJECT, frame_fraction=1.0))
    prompt = description.reverse_prompt.lower()
    assert "espresso" in prompt or "cup" in prompt, prompt
    assert description.provider == "offline" and description.prompt_version == "offline-1"
    assert description.model == "offline(mobilenet_v2_imagenet)"
    assert 1.0 <= description.quality_score <= 10.0


@pytest.mark.models
def test_unnamed_cat_is_named_after_a_cat_label(describer: OfflineDescriber, photo: Photo) -> None:
    description = describer.describe(DescribeRequest(photo("chelsea.png"), AssetType.OBJECT))
    assert any(cat.lower() in description.suggested_name.lower() for cat in CATS), description.suggested_name
    assert description.suggested_name == description.suggested_name.strip()
    assert description.suggested_name[0].isupper()


@pytest.mark.models
def test_pure_red_reads_red(describer: OfflineDescriber) -> None:
    description = describer.describe(DescribeRequest(red(), AssetType.OBJECT))
    assert "red" in description.reverse_prompt
    assert "red 100%" in description.visual_description
    assert "Red" in description.suggested_name


@pytest.mark.models
def test_dark_photo_reads_dim(describer: OfflineDescriber, photo: Photo) -> None:
    dark = (photo("coffee.png") * 0.15).astype(np.uint8)
    description = describer.describe(DescribeRequest(dark, AssetType.OBJECT))
    assert "dim" in description.reverse_prompt
    assert "underexposed" in description.visual_description


@pytest.mark.models
def test_face_crop_is_a_close_up(describer: OfflineDescriber, photo: Photo) -> None:
    face = photo("astronaut.png")[40:170, 170:280]
    request = DescribeRequest(face, AssetType.CHARACTER, is_face=True, frame_fraction=110 * 130 / 512**2)
    description = describer.describe(request)
    assert "close-up" in description.reverse_prompt
    assert description.suggested_name == "Unnamed Person"  # never named after skin colours


@pytest.mark.models
def test_face_landmarks_add_pose(describer: OfflineDescriber, photo: Photo) -> None:
    face = photo("astronaut.png")[40:170, 170:280]
    landmarks = np.array([[35, 62], [72, 60], [55, 82], [40, 102], [70, 100]], np.float64)
    description = describer.describe(DescribeRequest(face, AssetType.CHARACTER, is_face=True, landmarks=landmarks))
    assert "frontal" in description.reverse_prompt
    assert "close-up" in description.reverse_prompt


@pytest.mark.models
def test_same_input_same_output(describer: OfflineDescriber, photo: Photo) -> None:
    request = DescribeRequest(photo("motorcycle_left.png"), AssetType.VEHICLE, detection_class="motorcycle")
    first = describer.describe(request)
    second = describer.describe(request)
    fresh = OfflineDescriber(describer.classifier, ocr=False).describe(request)
    assert first == second == fresh


@pytest.mark.models
def test_user_name_is_used_as_given(describer: OfflineDescriber, photo: Photo) -> None:
    description = describer.describe(DescribeRequest(photo("coffee.png"), AssetType.PROP, name="Zoë's café"))
    assert description.suggested_name == "Zoë's café"
    assert "Zoë's café" in description.reverse_prompt
    assert "Zoë's café" in description.visual_description


@pytest.mark.models
@pytest.mark.parametrize("asset_type", list(AssetType))
def test_every_type_gives_a_valid_description(describer: OfflineDescriber, photo: Photo, asset_type: AssetType) -> None:
    description = describer.describe(DescribeRequest(photo("rocket.jpg"), asset_type, frame_fraction=1.0))
    assert len(description.reverse_prompt) >= 20 and description.visual_description
    assert 1 <= len(description.suggested_name) <= 60
    sentences = [s for s in description.visual_description.split(". ") if s]
    assert 2 <= len(sentences) <= 5, description.visual_description


@pytest.mark.models
def test_environment_guesses_time_of_day(describer: OfflineDescriber, photo: Photo) -> None:
    description = describer.describe(DescribeRequest(photo("rocket.jpg"), AssetType.ENVIRONMENT))
    assert "could be" in description.reverse_prompt  # worded as a guess
    assert "blue" in description.reverse_prompt  # the dusk sky


@pytest.mark.models
def test_describe_many_keeps_going(describer: OfflineDescriber, photo: Photo) -> None:
    good = DescribeRequest(red(), AssetType.OBJECT)
    bad = DescribeRequest(photo("coffee.png"), AssetType.OBJECT)
    object.__setattr__(bad, "image", np.zeros((0, 0, 3), np.uint8))  # broken after validation
    results = describer.describe_many([good, bad, good])
    assert isinstance(results[0], Description) and isinstance(results[2], Description)
    assert isinstance(results[1], Exception)


# -- lettering


@pytest.mark.models
@pytest.mark.skipif(not HAS_OCR, reason="rapidocr_onnxruntime is not installed (pip install --no-deps the ocr extra)")
def test_ocr_reads_large_lettering(settings: Settings) -> None:
    image = Image.new("RGB", (640, 220), "white")
    ImageDraw.Draw(image).text((30, 60), "VIDPIPE 42", fill="black", font=ImageFont.load_default(size=84))
    describer = OfflineDescriber(ImageNetClassifier(settings=settings), ocr=True)
    description = describer.describe(DescribeRequest(np.asarray(image), AssetType.PROP))
    assert '"VIDPIPE 42"' in description.reverse_prompt, description.reverse_prompt
    assert "VIDPIPE 42" in description.visual_description
    assert description.model == "offline(mobilenet_v2_imagenet+rapidocr)"


def test_missing_ocr_package_is_silent(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name.startswith("rapidocr") else real(name, *a)
    )
    describer = OfflineDescriber(None, ocr=True)
    assert not describer.ocr_available
    assert describer.describe(DescribeRequest(red(), AssetType.OBJECT)).model == "offline(pixels-only)"


@pytest.mark.models
def test_from_settings_uses_the_classifier_when_present(settings: Settings) -> None:
    describer = OfflineDescriber.from_settings(settings, ocr=False)
    assert describer.classifier is not None and describer.classifier.name == "mobilenet_v2_imagenet"


@pytest.mark.parametrize(
    ("label", "class_name", "expected"),
    [
        ("sports car", "car", True),
        ("moped", "motorcycle", True),
        ("espresso", "cup", True),
        ("espresso", "dining table", False),
        ("tabby", "cat", True),
        ("desk", "dining table", True),
        ("mosquito net", "bed", False),
    ],
)
def test_a_label_refines_only_its_own_class(label: str, class_name: str, expected: bool) -> None:
    assert refines(label, class_name) is expected


@pytest.mark.models
def test_detected_class_names_an_object_when_the_label_does_not_refine_it(
    describer: OfflineDescriber, photo: Photo
) -> None:
    # The coffee photo reads "espresso" to ImageNet; the same crop detected as a table stays a table.
    table = describer.describe(
        DescribeRequest(photo("coffee.png"), AssetType.OBJECT, detection_class="dining table", frame_fraction=1.0)
    )
    assert "Table" in table.suggested_name and "Espresso" not in table.suggested_name, table.suggested_name
    cup = describer.describe(
        DescribeRequest(photo("coffee.png"), AssetType.PROP, detection_class="cup", frame_fraction=1.0)
    )
    assert "Espresso" in cup.suggested_name, cup.suggested_name
