"""The offline describer on real photos with the real ImageNet weights (and rapidocr where installed)."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from vidpipe.bench.describe_offline import filler_in
from vidpipe.describe.describer import DescribeRequest, Description
from vidpipe.describe.describers.offline import (
    WORD_RANGES,
    OfflineDescriber,
    accessories_within,
    colour_name,
    face_pose,
    hair_colour,
    measure_palette,
    readable,
    refines,
    word_count,
)
from vidpipe.domain.enums import AssetType
from vidpipe.imaging.loading import load_image
from vidpipe.inference.classifier import ImageNetClassifier
from vidpipe.inference.face_analysis import face_crop
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
    assert face_pose(frontal) == ("frontal view facing the camera",)
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
    assert description.suggested_name == "Red vehicle"
    assert description.reverse_prompt.startswith("A red vehicle")


# -- with the real ImageNet weights


@pytest.mark.models
def test_coffee_mentions_espresso_or_cup(describer: OfflineDescriber, photo: Photo) -> None:
    description = describer.describe(DescribeRequest(photo("coffee.png"), AssetType.OBJECT, frame_fraction=1.0))
    prompt = description.reverse_prompt.lower()
    assert "espresso" in prompt or "cup" in prompt, prompt
    assert description.provider == "offline" and description.prompt_version == "offline-2"
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
    assert "red main colour" in description.visual_description  # a measured fact, in words
    assert "%" not in text_of(description)
    assert "Red" in description.suggested_name


@pytest.mark.models
def test_dark_photo_reads_dim(describer: OfflineDescriber, photo: Photo) -> None:
    dark = (photo("coffee.png") * 0.15).astype(np.uint8)
    description = describer.describe(DescribeRequest(dark, AssetType.OBJECT))
    assert "dim" in description.reverse_prompt.lower()
    assert "underexposed" in description.visual_description


@pytest.mark.models
def test_face_crop_is_a_close_up(describer: OfflineDescriber, photo: Photo) -> None:
    face = photo("astronaut.png")[40:170, 170:280]
    request = DescribeRequest(face, AssetType.CHARACTER, is_face=True, frame_fraction=110 * 130 / 512**2)
    description = describer.describe(request)
    assert "close-up" in description.reverse_prompt.lower()
    name = description.suggested_name.lower()
    assert name.startswith(("person", "unnamed person")), name
    assert not re.search(r"\b(?:skin|peach|beige|tan|taupe|pink)\b", name), name  # hair or clothes, never skin


@pytest.mark.models
def test_face_landmarks_add_pose(describer: OfflineDescriber, photo: Photo) -> None:
    face = photo("astronaut.png")[40:170, 170:280]
    landmarks = np.array([[35, 62], [72, 60], [55, 82], [40, 102], [70, 100]], np.float64)
    description = describer.describe(DescribeRequest(face, AssetType.CHARACTER, is_face=True, landmarks=landmarks))
    assert "frontal" in description.reverse_prompt
    assert "close-up" in description.reverse_prompt.lower()


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
    assert 2 <= len(sentences) <= 6, description.visual_description


@pytest.mark.models
def test_environment_guesses_time_of_day(describer: OfflineDescriber, photo: Photo) -> None:
    description = describer.describe(DescribeRequest(photo("rocket.jpg"), AssetType.ENVIRONMENT))
    assert "could be" in description.visual_description  # the bible words the guess as one...
    assert "could be" not in description.reverse_prompt  # ...the prompt states the light plainly
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
    assert describer.faces is not None  # finds the face in a person crop


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
    name = table.suggested_name.lower()
    assert "table" in name and "espresso" not in name, table.suggested_name
    cup = describer.describe(
        DescribeRequest(photo("coffee.png"), AssetType.PROP, detection_class="cup", frame_fraction=1.0)
    )
    assert "espresso" in cup.suggested_name.lower(), cup.suggested_name


# -- region-aware descriptions a generator can use

# YOLOX-Nano's boxes on the scikit-image samples (x1, y1, x2, y2), cropped as the pipeline crops them.
MOTORCYCLE_BOX = (110.0, 67.0, 709.0, 446.0)
CUP_BOX = (162.0, 16.0, 421.0, 295.0)
ASTRONAUT_BOX = (11.0, 20.0, 369.0, 507.0)
# SCRFD's face box and five landmarks on the astronaut, in the pipeline's face crop (30 % padding).
ASTRONAUT_FACE = (180.1, 57.8, 271.3, 177.1)
ASTRONAUT_LANDMARKS = np.array([[53.1, 77.3], [95.4, 81.3], [72.0, 104.9], [50.7, 117.5], [91.9, 120.7]])
HAIR = re.compile(r"\b(?:light brown|brown|dark blonde|blonde|auburn)\b hair")


@pytest.fixture(scope="module")
def full(settings: Settings) -> OfflineDescriber:
    """As the product builds it: classifier, face detector and (where installed) OCR."""
    return OfflineDescriber.from_settings(settings, ocr=HAS_OCR)


def crop(image: np.ndarray, box: tuple[float, float, float, float], padding: float) -> np.ndarray:
    return np.ascontiguousarray(face_crop(image, box, padding=padding)[0])


def assert_clean(description: Description) -> None:
    """No percentage, probability, doubled word or hedge in the prompt; none of the first two anywhere."""
    assert filler_in(description.reverse_prompt) == [], (filler_in(description.reverse_prompt), description)
    assert "%" not in description.visual_description, description.visual_description


def test_readable_lettering_is_told_from_ocr_noise() -> None:
    # What rapidocr read on ultralytics' bus.jpg (with its confidences) and some made-up cases.
    assert readable("cero", 0.984) and readable("emisiones", 0.986)
    assert readable("VIDPIPE 42", 0.95) and readable("Espresso Bar", 0.9)
    assert not readable("M1SOL/SEUILLA", 0.705)  # low confidence, and letters mixed with digits
    assert not readable("M1SOL/SEUILLA", 0.99)
    assert not readable("meristpln", 0.95)  # six consonants in a row
    assert not readable("elecricamEMTe", 0.934)  # case changes inside a word
    assert not readable("10", 0.998)  # no letters
    assert not readable("cero", 0.6)  # a word, but read without confidence


def test_filler_is_found_where_the_user_saw_it() -> None:
    assert filler_in("Deep-field look look, cool grade.")
    assert filler_in("colour palette mostly taupe (42%)")
    assert filler_in("a motor scooter, possibly also read as moped")
    assert filler_in("Launch pad reads as a drilling platform")
    assert filler_in("label espresso p=0.92")
    assert filler_in("a red motorcycle with black details, soft light.") == []


def test_accessories_inside_a_person_box() -> None:
    person = (100.0, 50.0, 200.0, 400.0)
    others = [
        ("tie", (140.0, 120.0, 160.0, 200.0)),
        ("car", (0.0, 0.0, 90.0, 90.0)),
        ("handbag", (190.0, 250.0, 260.0, 300.0)),
    ]
    assert accessories_within(person, others) == ("tie",)  # the car is not worn; the bag is mostly outside
    with pytest.raises(ValueError, match="face_box"):
        DescribeRequest(red(), AssetType.CHARACTER, face_box=(10.0, 10.0, 5.0, 20.0))


@pytest.mark.models
def test_astronaut_prompt_names_a_person_her_hair_and_clothing_colours(full: OfflineDescriber, photo: Photo) -> None:
    image = photo("astronaut.png")
    body = full.describe(
        DescribeRequest(
            crop(image, ASTRONAUT_BOX, 0.1), AssetType.CHARACTER, detection_class="person", source_size=(512, 512)
        )
    )
    prompt = body.reverse_prompt
    assert prompt.startswith("A person"), prompt
    assert HAIR.search(prompt), prompt
    assert re.search(r"\b(?:orange|rust|copper)\b[^.]*clothing on the upper body", prompt), prompt  # the suit
    assert "skin tone" in prompt and "shot" in prompt, prompt
    assert_clean(body)
    # The pipeline's view of her: the face crop with landmarks. Hair, skin, pose, and the black
    # collar below the chin.
    face = full.describe(
        DescribeRequest(
            crop(image, ASTRONAUT_FACE, 0.3),
            AssetType.CHARACTER,
            detection_class="face",
            is_face=True,
            landmarks=ASTRONAUT_LANDMARKS,
            source_size=(512, 512),
        )
    )
    assert face.reverse_prompt.startswith("A person"), face.reverse_prompt
    assert HAIR.search(face.reverse_prompt) and "frontal" in face.reverse_prompt, face.reverse_prompt
    assert "black clothing at the neckline" in face.reverse_prompt, face.reverse_prompt
    assert_clean(face)


@pytest.mark.models
def test_accessories_and_a_users_name_lead_a_character(full: OfflineDescriber, photo: Photo) -> None:
    image = crop(photo("astronaut.png"), ASTRONAUT_BOX, 0.1)
    description = full.describe(DescribeRequest(image, AssetType.CHARACTER, name="Commander", accessories=("tie",)))
    assert description.reverse_prompt.startswith("Commander, a person"), description.reverse_prompt
    assert "wearing a tie" in description.reverse_prompt and "tie" in description.visual_description
    assert description.suggested_name == "Commander"


@pytest.mark.models
def test_motorcycle_prompt_starts_with_the_subject_and_is_no_scooter(full: OfflineDescriber, photo: Photo) -> None:
    image = crop(photo("motorcycle_left.png"), MOTORCYCLE_BOX, 0.1)
    unnamed = full.describe(
        DescribeRequest(image, AssetType.VEHICLE, detection_class="motorcycle", source_size=(741, 500))
    )
    prompt = unnamed.reverse_prompt
    assert prompt.startswith("A red motorcycle"), prompt  # the tank's red, not the garage's taupe
    assert not re.search(r"scooter|moped", text_of(unnamed), re.IGNORECASE), text_of(unnamed)
    assert unnamed.suggested_name == "Red motorcycle"
    assert_clean(unnamed)
    named = full.describe(
        DescribeRequest(image, AssetType.VEHICLE, name="Bike", detection_class="motorcycle", source_size=(741, 500))
    )
    assert named.reverse_prompt.startswith("Bike, a red motorcycle"), named.reverse_prompt
    assert named.suggested_name == "Bike"


@pytest.mark.models
def test_cup_is_described_by_its_own_colours_not_the_table(full: OfflineDescriber, photo: Photo) -> None:
    image = crop(photo("coffee.png"), CUP_BOX, 0.1)
    description = full.describe(
        DescribeRequest(image, AssetType.PROP, name="Espresso", detection_class="cup", source_size=(600, 400))
    )
    prompt = description.reverse_prompt
    assert prompt.startswith("Espresso, a ") and "espresso cup" in prompt, prompt
    assert re.search(r"\b(?:glossy|smooth|matte)\b[^.]*ceramic surface", prompt), prompt
    assert "background" in prompt and "table" not in prompt, prompt
    assert_clean(description)


@pytest.mark.models
@pytest.mark.skipif(not HAS_OCR, reason="rapidocr_onnxruntime is not installed (pip install --no-deps the ocr extra)")
def test_bus_lettering_keeps_words_and_drops_noise(full: OfflineDescriber, data_dir: Path) -> None:
    bus = load_image(data_dir / "detection" / "ultralytics_assets" / "bus.jpg")
    description = full.describe(
        DescribeRequest(crop(bus, (13.0, 231.0, 801.0, 735.0), 0.1), AssetType.VEHICLE, detection_class="bus")
    )
    text = text_of(description)
    assert '"cero"' in text and '"emisiones"' in text, text  # the lettering on its side
    assert not re.search(r"M1S|SEU|meristp|elecrica", text), text  # what OCR misread there
    assert_clean(description)


PHOTOS_BY_TYPE = [
    ("astronaut.png", AssetType.CHARACTER, None),
    ("coffee.png", AssetType.PROP, "cup"),
    ("coffee.png", AssetType.OBJECT, None),
    ("motorcycle_left.png", AssetType.VEHICLE, "motorcycle"),
    ("chelsea.png", AssetType.OBJECT, "cat"),
    ("rocket.jpg", AssetType.ENVIRONMENT, None),
    ("rocket.jpg", AssetType.STYLE, None),
]


@pytest.mark.models
@pytest.mark.parametrize(("name", "asset_type", "detection_class"), PHOTOS_BY_TYPE)
@pytest.mark.parametrize("user_name", ["", "Deep-field look"])
def test_word_counts_fit_the_research_ranges_and_nothing_is_filler(
    full: OfflineDescriber,
    photo: Photo,
    name: str,
    asset_type: AssetType,
    detection_class: str | None,
    user_name: str,
) -> None:
    request = DescribeRequest(
        photo(name), asset_type, name=user_name, detection_class=detection_class, frame_fraction=1.0
    )
    description = full.describe(request)
    (prompt_low, prompt_high), (bible_low, bible_high) = WORD_RANGES[asset_type]
    assert prompt_low <= word_count(description.reverse_prompt) <= prompt_high, description.reverse_prompt
    assert bible_low <= word_count(description.visual_description) <= bible_high, description.visual_description
    assert_clean(description)
    if user_name:
        assert description.reverse_prompt.startswith(user_name), description.reverse_prompt


@pytest.mark.models
def test_rocket_is_no_drilling_platform(full: OfflineDescriber, photo: Photo) -> None:
    # ImageNet calls the launch pad a drilling platform at under 0.5: not confident enough to name it.
    for asset_type in (AssetType.ENVIRONMENT, AssetType.OBJECT):
        description = full.describe(DescribeRequest(photo("rocket.jpg"), asset_type, name="Launch pad"))
        assert "drilling" not in text_of(description).lower(), text_of(description)


def test_a_colour_in_the_users_name_is_not_contradicted() -> None:
    from vidpipe.describe.describers.offline import named_colour

    assert named_colour("Red motorcycle") == "red"
    assert named_colour("The midnight blue car") == "midnight blue"
    assert named_colour("Gray hat") == "grey"
    assert named_colour("Fredrick") is None and named_colour("") is None


def _lab(lightness: float, chroma: float, hue: float) -> np.ndarray:
    return np.array([lightness, chroma * np.cos(np.radians(hue)), chroma * np.sin(np.radians(hue))])


@pytest.mark.parametrize(
    ("lab", "word"),
    [
        # Hair colours as measured on labelled faces (lightness, chroma, hue).
        (_lab(14.0, 5.6, -2.7), "black"),
        (_lab(26.2, 18.0, 51.1), "dark brown"),
        (_lab(66.3, 10.7, 42.7), "grey"),  # grey hair under warm light (Eric Clapton), not blonde
        (_lab(75.0, 11.0, 80.0), "platinum blonde"),  # pale and yellow
        (_lab(67.3, 34.3, 50.1), "blonde"),
        (_lab(82.8, 0.0, 0.0), "white"),
    ],
)
def test_pale_hair_is_blonde_only_when_yellow(lab: np.ndarray, word: str) -> None:
    assert hair_colour(lab) == word


def test_a_detected_tie_is_not_named_again_by_the_classifier(full: OfflineDescriber, data_dir: Path) -> None:
    biden = load_image(data_dir / "faces" / "face_recognition" / "biden.jpg")
    plain = full.describe(DescribeRequest(biden, AssetType.CHARACTER, name="Biden")).reverse_prompt
    assert "in a bow tie" in plain  # the ImageNet label, on a man in a necktie
    worn = full.describe(DescribeRequest(biden, AssetType.CHARACTER, name="Biden", accessories=("tie",)))
    assert "wearing a tie" in worn.reverse_prompt and "bow tie" not in worn.reverse_prompt
    assert_clean(worn)
