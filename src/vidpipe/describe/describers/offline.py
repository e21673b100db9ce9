"""The offline describer: text written from what local models measure in the crop, no network.

It measures regions, not the whole crop, and writes only about what it measured:

* people (CHARACTER): where the face is (landmarks, a given face box, the face crop's own padding,
  else a skin-coloured blob near the top of a person crop); the hair colour from the region above
  the eyes and its length from beside the jaw; the skin tone from the cheeks, in plain neutral words
  (light, medium, brown...); the colour of the clothing on the upper body (below the chin) and on
  the lower body, skin-coloured pixels left out; accessories the request names; the shot size from
  how many head heights the crop holds; the head's turn and tilt from landmarks; which side the
  light on the face comes from;
* things (OBJECT, PROP, VEHICLE): the subject noun from the detector's class, replaced by an
  ImageNet label only when that label is confident and names a kind of the class; the object's own
  colours from its foreground (pixels unlike the crop's border), not the whole crop; a material-like
  texture word (smooth, glossy, matte, rough, patterned) from local statistics of that foreground;
  its profile from the box; the background named apart, briefly (plain or busy, in focus or not);
* places and styles: a palette without numbers, the light (brightness, contrast, colour
  temperature, saturation), the sky and the foreground bands, the lines that dominate, vignetting
  and grain;
* lettering: OCR strings only when they read as words (mostly letters, one case pattern per word,
  vowels and consonants in a plausible mix) with good confidence;
* the reference quality from `assess_crop`.

The reverse prompt follows the design research's structure per type (subject first, then
appearance, then light and camera) and its word ranges (`WORD_RANGES`); it states what was
measured, never a percentage, a probability or a hedge ("possibly", "reads as"). The production-bible
text may keep measured facts, in words.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import logging
import math
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import cv2
import numpy as np

from vidpipe.describe.describer import Describer, DescribeRequest, Description
from vidpipe.domain.enums import AssetType
from vidpipe.imaging.quality import QualityReport, assess_crop
from vidpipe.inference.classifier import ImageNetClassifier
from vidpipe.inference.face_detector import FaceDetector, create_face_detector
from vidpipe.settings import Settings, get_settings

logger = logging.getLogger(__name__)

Array = np.ndarray[Any, Any]

# Reference colours (sRGB) that clusters are named after, by nearest ΔE in CIE Lab.
COLOUR_TABLE: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("black", (18, 18, 18)),
    ("charcoal", (54, 54, 58)),
    ("grey", (128, 128, 128)),
    ("silver", (192, 192, 196)),
    ("white", (248, 248, 248)),
    ("cream", (250, 240, 210)),
    ("beige", (220, 205, 175)),
    ("taupe", (170, 150, 140)),
    ("khaki", (190, 175, 130)),
    ("tan", (205, 160, 115)),
    ("peach", (250, 190, 150)),
    ("brown", (130, 80, 45)),
    ("dark brown", (70, 45, 30)),
    ("rust", (180, 70, 25)),
    ("copper", (185, 110, 60)),
    ("brick red", (145, 45, 30)),
    ("red", (210, 30, 30)),
    ("crimson", (190, 20, 60)),
    ("maroon", (120, 20, 30)),
    ("orange", (250, 130, 20)),
    ("gold", (210, 170, 50)),
    ("yellow", (245, 220, 40)),
    ("olive", (120, 120, 30)),
    ("lime green", (130, 220, 50)),
    ("green", (40, 150, 60)),
    ("forest green", (30, 85, 40)),
    ("teal", (0, 120, 120)),
    ("turquoise", (60, 210, 200)),
    ("sky blue", (135, 195, 235)),
    ("blue", (30, 80, 210)),
    ("navy", (10, 15, 120)),
    ("midnight blue", (28, 38, 62)),
    ("slate blue", (65, 85, 120)),
    ("purple", (110, 40, 140)),
    ("lavender", (185, 165, 220)),
    ("pink", (245, 160, 190)),
    ("magenta", (210, 30, 160)),
)

PALETTE_K = 4
PALETTE_SIDE = 64  # the crop is shrunk to this longer side before clustering
LIGHTING_SIDE = 256  # lighting statistics are taken at this longer side
ANALYSIS_SIDE = 160  # things and scenes (foreground, texture, background) are measured at this longer side
PERSON_SIDE = 480  # people at this one: a face in a full-body crop must keep enough pixels
PALETTE_MIN_SHARE = 0.05  # colours covering less of the crop are not named
KMEANS_SEED = 20240601
KMEANS_ITERATIONS = 25
KMEANS_TOLERANCE = 0.05  # stop once no centre moves more than this (Lab units)
REGION_SAMPLES = 3000  # at most this many pixels of a region are clustered
SECOND_COLOUR_SHARE = 0.25  # a region's second colour is named when it covers this much of it
ACCENT_SHARE = 0.15  # a thing's third colour (an accent) likewise
SAME_COLOUR_DE = 22.0  # colours closer than this (weighted ΔE) are shades of one another
SAME_HUE_DEGREES = 15.0  # ...and so are two hued colours whose hue angles are this close

# Lighting thresholds on CIE L* (0..100) and the b* axis of near-neutral highlights.
DIM_L, BRIGHT_L = 35.0, 68.0
FLAT_SPREAD, HIGH_SPREAD = 30.0, 65.0  # L* between the 5th and 95th percentile
WARM_B, COOL_B = 6.0, -4.0
MUTED_CHROMA, VIVID_CHROMA = 12.0, 35.0
FLAT_SHARPNESS = 0.02  # below this the crop has no structure for the classifier to name
LIGHT_SIDE_L = 9.0  # one half of a face (or thing) this much brighter in L*: light comes from that side

# People. Distances are in eye distances (d) from the eyes' midpoint; a head is about HEAD_D of them.
HEAD_D = 3.4
SKIN_DE = 14.0  # pixels within this (weighted) ΔE of the measured skin are skin, not hair or cloth
HAIR_SKIN_DE = 14.0  # in the hair region, skin (the forehead) is what lies within this ΔE of the cheeks
HAIR_MIN_SHARE = 0.3  # the hair region must be at least this much not-skin to name a hair colour
HAIR_SIDE_SHARE = 0.4  # beside the jaw, this much hair-coloured on both sides: long hair
CLOTH_MIN_SHARE = 0.3  # a clothing region must be at least this much not-skin to name a colour
BARE_SHARE = 0.6  # ...and at least this much skin reads as bare skin
BARE_GENERIC_SHARE = 0.5  # ...when the generic skin-colour test agrees on at least this much of it

# Things: foreground is what differs from the border by this ΔE (weighted, as colour_name).
FOREGROUND_DE = 18.0
GRABCUT_ITERATIONS = 3
BORDER = 0.08  # the border ring, as a share of the shorter side

# Texture: mean absolute fine detail (L* units, at ANALYSIS_SIDE) and specular highlights. Calibrated
# on coco8's boxes and the scikit-image samples (see the offline bench in vidpipe.bench).
ROUGH_DETAIL, SMOOTH_DETAIL = 3.7, 1.5  # fine detail: mean |L* - blur(L*, σ=1)|
PATTERN_MID = 10.0  # mid-scale contrast, mean |L* - blur(L*, σ=3)|, with two or more colours
GLOSS_MIN, GLOSS_MAX = 0.05, 0.15  # share of small bright neutral highlights on a darker surface
BUSY_EDGES = 0.07  # edge density of the border ring above which the background is busy
BLUR_RATIO = 0.2  # background Laplacian variance under this share of the subject's: out of focus

# Labels.
LABEL_NAME_MIN = 0.6  # an ImageNet label names a thing only from this probability up...
LABEL_ALONE_MIN = 0.5  # ...or, with no detector class, from this one
CHARACTER_LABEL_MIN = 0.3  # wearable labels on people

OCR_MIN_CONFIDENCE = 0.8
OCR_MAX_STRINGS = 5

# Word ranges of the design research: (reverse prompt, production-bible text) per type. STYLE follows
# the environment's checklist there.
WORD_RANGES: dict[AssetType, tuple[tuple[int, int], tuple[int, int]]] = {
    AssetType.CHARACTER: ((100, 150), (50, 80)),
    AssetType.OBJECT: ((80, 120), (40, 60)),
    AssetType.PROP: ((80, 120), (40, 60)),
    AssetType.VEHICLE: ((80, 120), (40, 60)),
    AssetType.ENVIRONMENT: ((120, 180), (60, 100)),
    AssetType.STYLE: ((120, 180), (60, 100)),
}

# COCO classes a person wears or holds, named as accessories of a CHARACTER when found on them.
ACCESSORY_CLASSES = frozenset(
    {
        "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball",
        "kite", "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
        "wine glass", "cup", "fork", "knife", "spoon", "cell phone", "book", "scissors", "teddy bear",
        "hair drier", "toothbrush", "remote", "laptop",
    }
)  # fmt: skip
ACCESSORY_PHRASES: dict[str, str] = {
    "tie": "wearing a tie",
    "backpack": "wearing a backpack",
    "handbag": "carrying a handbag",
    "suitcase": "with a suitcase",
    "umbrella": "holding an umbrella",
    "cell phone": "holding a phone",
    "skis": "on skis",
    "snowboard": "with a snowboard",
    "skateboard": "with a skateboard",
    "surfboard": "carrying a surfboard",
    "baseball glove": "wearing a baseball glove",
}
# ImageNet labels that a person wears (named as accessories when confident).
WEARABLE_LABELS = frozenset(
    {
        "sunglasses", "sunglass", "cowboy hat", "sombrero", "crash helmet", "football helmet", "mortarboard",
        "bow tie", "Windsor tie", "bolo tie", "stole", "feather boa", "wig", "lab coat", "military uniform",
        "academic gown", "kimono", "abaya", "trench coat", "fur coat", "cardigan", "sweatshirt", "jersey",
        "suit", "poncho", "apron", "bulletproof vest", "jean", "miniskirt", "hoopskirt", "overskirt",
        "sarong", "swimming trunks", "bikini", "maillot", "pajama", "cloak", "vestment", "bonnet", "necklace",
        "gasmask", "ski mask", "hair slide", "shower cap", "bathing cap",
    }
)  # fmt: skip

ANIMAL_CLASSES = frozenset(
    {"bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "teddy bear"}
)
# A material a class is made of, where that is near certain; else the texture speaks alone.
CLASS_MATERIAL: dict[str, str] = {
    "car": "painted metal", "bus": "painted metal", "truck": "painted metal", "train": "painted metal",
    "motorcycle": "painted metal", "airplane": "painted metal", "bicycle": "metal-framed",
    "cup": "ceramic", "vase": "ceramic", "bowl": "ceramic", "wine glass": "glass", "bottle": "glass",
    "fork": "metal", "knife": "metal", "spoon": "metal", "scissors": "metal",
    "laptop": "plastic", "keyboard": "plastic", "mouse": "plastic", "remote": "plastic", "cell phone": "plastic",
    "tv": "plastic", "book": "paper", "teddy bear": "plush", "couch": "upholstered", "umbrella": "fabric",
    "dining table": "wooden", "bench": "wooden",
}  # fmt: skip
# A guessed material per label word; only used when a confident label itself says what the thing is.
MATERIAL_HINTS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("wooden", "wood", "plank", "barrel"), "wooden"),
    (("leather", "saddle", "wallet"), "leather"),
    (("bottle", "goblet", "beer glass", "wine", "glass", "jar", "lens"), "glass"),
    (("cup", "mug", "teapot", "vase", "pitcher", "plate", "bowl", "espresso"), "ceramic"),
    (("wool", "knit"), "knitted"),
    (("basket", "wicker"), "woven wicker"),
    (("stone", "brick", "wall", "castle"), "stone"),
    (("envelope", "book", "carton", "paper", "menu"), "paper"),
)
# ImageNet labels that confirm a class but would misname a typical one: ImageNet has no motorcycle,
# so every motorcycle reads as a moped or a scooter.
CONFIRM_ONLY = frozenset({"moped", "motor scooter", "airship", "crane"})
# Labels that read as a modifier of the class's noun ("espresso" → "espresso cup").
MODIFIER_LABELS = frozenset({"espresso", "tabby", "eggnog", "cappuccino"})
# Labels that name what is in a thing rather than the thing, when no detector class says what it is.
ALONE_PHRASES = {"espresso": "espresso cup", "eggnog": "glass of eggnog", "cappuccino": "cappuccino cup"}
# ImageNet labels that name a place (for ENVIRONMENT), used when confident.
PLACE_LABELS = frozenset(
    {
        "alp", "cliff", "coral reef", "geyser", "lakeside", "promontory", "sandbar", "seashore", "valley",
        "volcano", "boathouse", "barn", "bakery", "barbershop", "bookshop", "butcher shop", "church", "cinema",
        "confectionery", "dock", "fountain", "greenhouse", "grocery store", "library", "monastery", "mosque",
        "palace", "patio", "planetarium", "prison", "restaurant", "shoe shop", "tobacco shop", "toyshop",
        "triumphal arch", "water tower", "dam", "suspension bridge", "steel arch bridge", "pier", "breakwater",
        "lumbermill", "castle", "home theater", "stage", "bell cote", "shoji", "pavilion", "stupa", "obelisk",
        "megalith", "beacon",
    }
)  # fmt: skip

TYPE_NOUN: dict[AssetType, str] = {
    AssetType.CHARACTER: "person",
    AssetType.OBJECT: "object",
    AssetType.PROP: "prop",
    AssetType.ENVIRONMENT: "location",
    AssetType.VEHICLE: "vehicle",
    AssetType.STYLE: "style",
}


def accessories_within(
    person_box: tuple[float, float, float, float] | list[float],
    others: Sequence[tuple[str, tuple[float, float, float, float] | list[float]]],
    *,
    min_inside: float = 0.6,
) -> tuple[str, ...]:
    """Classes of wearable or held detections lying mostly inside a person's box (x1, y1, x2, y2 each),
    in order of first appearance, each once: what a `DescribeRequest`'s ``accessories`` expects."""
    px1, py1, px2, py2 = person_box
    found: list[str] = []
    for name, (x1, y1, x2, y2) in others:
        if name not in ACCESSORY_CLASSES or name in found:
            continue
        area = max(0.0, x2 - x1) * max(0.0, y2 - y1)
        overlap = max(0.0, min(x2, px2) - max(x1, px1)) * max(0.0, min(y2, py2) - max(y1, py1))
        if area > 0 and overlap / area >= min_inside:
            found.append(name)
    return tuple(found)


@dataclass(frozen=True)
class Swatch:
    name: str
    share: float  # 0..1 of the crop's pixels


@dataclass(frozen=True)
class Palette:
    swatches: tuple[Swatch, ...]  # largest first, each at least PALETTE_MIN_SHARE
    subject: str  # the colour most common in the crop's central region
    background: str  # the colour most common along the crop's border
    background_plain: bool  # the border is one even colour


@dataclass(frozen=True)
class Lighting:
    brightness: str  # dim / even / bright
    contrast: str  # flat / moderate / high
    temperature: str  # warm / neutral / cool
    saturation: str  # monochrome / muted / natural / vivid
    mean_l: float


@dataclass(frozen=True)
class Framing:
    orientation: str  # portrait / landscape / square
    shot: str | None  # e.g. "close-up", "medium shot"; None where it cannot be told
    pose: tuple[str, ...]  # face turn and tilt words, empty without landmarks


@dataclass(frozen=True)
class Background:
    colours: tuple[str, ...]  # one or two names, most common first
    plain: bool  # one even colour with little detail
    busy: bool  # much detail
    blurred: bool  # much softer than the subject
    lab: tuple[float, float, float] | None = None  # mean Lab of its most common colour


@dataclass(frozen=True)
class PersonLook:
    """What was measured on a person, each None (or empty) where it could not be told."""

    shot: str | None
    face_found: bool
    skin: str | None  # "light", "medium", ...
    hair: str | None  # "light brown", "black", ...
    hair_length: str | None  # "short" / "long"
    upper: tuple[str, ...]  # colour names of the clothing below the chin
    upper_bare: bool
    lower: tuple[str, ...]  # colour names of the clothing on the legs
    lower_bare: bool
    light_side: str | None  # "frame left" / "frame right"


@dataclass(frozen=True)
class ThingLook:
    colours: tuple[str, ...]  # the thing's own colours, main first (at most three)
    texture: str | None  # "smooth and glossy", "matte", "rough", "patterned", ...
    light_side: str | None
    position: str | None = None  # "centred in the frame", "placed toward frame left"
    stands_out: str | None = None  # the background is "lighter" or "darker" than the thing


@dataclass(frozen=True)
class SceneLook:
    sky: str | None  # "deep blue sky", ...
    foreground: str | None  # colour name of the bottom band
    lines: str | None  # "strong vertical lines", ...
    detail: str  # "sparse" / "moderate" / "dense"
    vignette: bool  # corners clearly darker than the centre
    grain: str  # "clean" / "fine grain" / "heavy grain"
    brightest: str | None = None  # where the light is strongest: "the upper left of the frame", ...
    shadows: str | None = None  # "deep black shadows" / "lifted, faded shadows"
    highlights: str | None = None  # "bright, clean highlights" / "soft, muted highlights"


@dataclass(frozen=True)
class Measurements:
    """Everything the offline describer measured in one crop."""

    palette: Palette
    lighting: Lighting
    framing: Framing
    labels: tuple[tuple[str, float], ...]  # (first name of the ImageNet label, probability), best first
    text: tuple[str, ...]  # OCR strings that read as words, reading order
    quality: QualityReport
    parts: tuple[str, ...]  # which models ran, for the description's ``model`` string
    background: Background
    person: PersonLook | None = None  # CHARACTER only
    thing: ThingLook | None = None  # OBJECT, PROP and VEHICLE
    scene: SceneLook | None = None  # ENVIRONMENT and STYLE


# ---------------------------------------------------------------------------------------------- colours


def _to_lab(rgb: Array) -> np.ndarray[Any, np.dtype[np.float32]]:
    """CIE Lab (L 0..100, a/b about -128..127) of uint8 RGB pixels of any leading shape."""
    flat = np.ascontiguousarray(rgb, dtype=np.float32).reshape(-1, 1, 3) / 255.0
    lab = np.asarray(cv2.cvtColor(flat, cv2.COLOR_RGB2Lab), np.float32)
    return lab.reshape(*rgb.shape[:-1], 3)


_TABLE_NAMES = tuple(name for name, _ in COLOUR_TABLE)
_NAME_WEIGHTS = np.array([0.5, 1.0, 1.0], np.float32)
_TABLE_LAB = _to_lab(np.array([rgb for _, rgb in COLOUR_TABLE], np.uint8))


def colour_name(lab: Array) -> str:
    """The reference colour nearest to one Lab value: ΔE76 with lightness at half weight, as hue and
    chroma decide a colour's name more than lightness does (a dark blue is still blue)."""
    diff = (_TABLE_LAB - np.asarray(lab, np.float32)[None, :]) * _NAME_WEIGHTS
    distances = np.linalg.norm(diff, axis=1)
    return _TABLE_NAMES[int(np.argmin(distances))]


def _delta(pixels: Array, lab: Array) -> Array:
    """Weighted ΔE (lightness at half weight) of each pixel (…, 3) from one Lab value."""
    diff = (np.asarray(pixels, np.float32) - np.asarray(lab, np.float32)) * _NAME_WEIGHTS
    result: Array = np.linalg.norm(diff, axis=-1)
    return result


def _kmeans(points: Array, k: int) -> tuple[Array, Array]:
    """Deterministic k-means (k-means++ seeding from a fixed seed, then Lloyd): (centres, labels)."""
    unique = np.unique(points, axis=0)
    if len(unique) <= k:
        centres = unique
    else:
        rng = np.random.default_rng(KMEANS_SEED)
        chosen = [points[int(rng.integers(len(points)))]]
        nearest = np.sum((points - chosen[0]) ** 2, axis=1)
        while len(chosen) < k and float(nearest.sum()) > 0:
            index = int(rng.choice(len(points), p=nearest / nearest.sum()))
            chosen.append(points[index])
            nearest = np.minimum(nearest, np.sum((points - points[index]) ** 2, axis=1))
        centres = np.array(chosen)
    k = len(centres)

    def assign(centres: Array) -> Array:
        squared = np.sum((points[:, None, :] - centres[None, :, :]) ** 2, axis=2)
        nearest: Array = np.argmin(squared, axis=1)
        return nearest

    for _ in range(KMEANS_ITERATIONS):
        labels = assign(centres)
        counts = np.bincount(labels, minlength=k)
        sums = np.stack([np.bincount(labels, weights=points[:, j], minlength=k) for j in range(3)], axis=1)
        moved = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], centres)
        shift = float(np.abs(moved - centres).max())
        centres = moved
        if shift < KMEANS_TOLERANCE:
            break
    labels = assign(centres)
    return centres, labels


def _shrink(image: Array, side: int) -> Array:
    """The image with its longer side at most ``side`` pixels (area-averaged)."""
    h, w = image.shape[:2]
    scale = side / max(h, w)
    if scale >= 1:
        return image
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(np.ascontiguousarray(image), size, interpolation=cv2.INTER_AREA)


def measure_palette(image: Array) -> Palette:
    """Dominant named colours of a crop, plus the colours of its centre and its border."""
    lab = _to_lab(_shrink(image, PALETTE_SIDE)).astype(np.float64)
    sh, sw = lab.shape[:2]
    centres, labels = _kmeans(lab.reshape(-1, 3), PALETTE_K)
    # Index of each pixel's colour name in COLOUR_TABLE; clusters with the same name merge.
    name_of_cluster = np.array([_TABLE_NAMES.index(colour_name(c)) for c in centres])
    named = name_of_cluster[labels].reshape(sh, sw)

    def ranked(values: Array) -> list[tuple[str, float]]:
        counts = np.bincount(values.ravel(), minlength=len(_TABLE_NAMES)) / values.size
        order = sorted(np.flatnonzero(counts), key=lambda i: (-counts[i], _TABLE_NAMES[i]))
        return [(_TABLE_NAMES[i], float(counts[i])) for i in order]

    shares = ranked(named)
    swatches = tuple(Swatch(n, round(s, 3)) for n, s in shares if s >= PALETTE_MIN_SHARE) or (
        Swatch(shares[0][0], round(shares[0][1], 3)),
    )
    y0, y1, x0, x1 = sh // 4, sh - sh // 4, sw // 4, sw - sw // 4
    subject = ranked(named[y0 : max(y1, y0 + 1), x0 : max(x1, x0 + 1)])[0][0]
    ring = max(1, round(min(sh, sw) * 0.1))
    border_mask = np.ones((sh, sw), bool)
    border_mask[ring : sh - ring, ring : sw - ring] = False
    background, share = ranked(named[border_mask])[0]
    plain = share >= 0.8 and float(lab[border_mask][:, 0].std()) < 8.0
    return Palette(swatches, subject, background, plain)


def dominant_colours(pixels: Array, k: int = 3) -> list[tuple[str, float, Array]]:
    """Named colours of a set of Lab pixels (N, 3), largest first: (name, share, mean Lab).
    Clusters with the same name merge."""
    points = np.asarray(pixels, np.float64).reshape(-1, 3)
    if len(points) == 0:
        return []
    if len(points) > REGION_SAMPLES:
        points = points[:: math.ceil(len(points) / REGION_SAMPLES)]
    centres, labels = _kmeans(points, k)
    counts = np.bincount(labels, minlength=len(centres)).astype(np.float64)
    merged: dict[str, tuple[float, Array]] = {}
    for centre, count in zip(centres, counts, strict=True):
        if count == 0:
            continue
        name = colour_name(centre)
        share, lab = merged.get(name, (0.0, np.zeros(3)))
        merged[name] = (share + count, lab + centre * count)
    total = float(counts.sum())
    result = [(name, share / total, lab / share) for name, (share, lab) in merged.items()]
    result.sort(key=lambda item: (-item[1], item[0]))
    return result


def _colour_list(
    ranked: list[tuple[str, float, Array]], most: int = 2, share: float = SECOND_COLOUR_SHARE
) -> tuple[str, ...]:
    if not ranked:
        return ()
    names = [ranked[0][0]]
    names += [name for name, s, _ in ranked[1:most] if s >= share]
    return tuple(names)


# ---------------------------------------------------------------------------------------------- light


def measure_lighting(image: Array, quality: QualityReport) -> Lighting:
    """Brightness, contrast, colour temperature and saturation of a crop (statistics at 256 px)."""
    lab = _to_lab(_shrink(image, LIGHTING_SIDE)).reshape(-1, 3)
    lightness, a, b = lab[:, 0], lab[:, 1], lab[:, 2]
    mean_l = float(lightness.mean())
    brightness = "dim" if mean_l < DIM_L else "bright" if mean_l > BRIGHT_L else "even"
    if "underexposed" in quality.reasons:
        brightness = "dim"
    elif "overexposed" in quality.reasons:
        brightness = "bright"
    low, high = np.percentile(lightness, [5, 95])
    spread = float(high - low)
    contrast = "flat" if spread < FLAT_SPREAD else "high" if spread > HIGH_SPREAD else "moderate"
    chroma = np.hypot(a, b)
    # The light's colour shows best in near-neutral highlights (white walls, paper, skies); fall back
    # to the whole crop's mean where there are too few of them.
    highlights = (lightness >= np.percentile(lightness, 70)) & (chroma < 25) & (lightness > 20)
    tint = float(b[highlights].mean()) if highlights.mean() >= 0.05 else float(b.mean())
    temperature = "warm" if tint > WARM_B else "cool" if tint < COOL_B else "neutral"
    mean_chroma = float(chroma.mean())
    if mean_chroma < 4.0:
        saturation = "monochrome"
    elif mean_chroma < MUTED_CHROMA:
        saturation = "muted"
    elif mean_chroma > VIVID_CHROMA:
        saturation = "vivid"
    else:
        saturation = "natural"
    return Lighting(brightness, contrast, temperature, saturation, round(mean_l, 1))


def _light_side(left: Array, right: Array) -> str | None:
    """The side the light comes from, when one half (L* values) is clearly brighter than the other."""
    if left.size < 20 or right.size < 20:
        return None
    difference = float(np.median(left)) - float(np.median(right))
    if abs(difference) < LIGHT_SIDE_L:
        return None
    return "frame left" if difference > 0 else "frame right"


# ---------------------------------------------------------------------------------------------- framing


def face_pose(landmarks: Array) -> tuple[str, ...]:
    """Words for the head's turn (yaw) and tilt (roll) from eyes and nose tip, in image terms."""
    left_eye, right_eye, nose = landmarks[0], landmarks[1], landmarks[2]
    eye_vec = right_eye - left_eye
    eye_dist = float(np.linalg.norm(eye_vec))
    if eye_dist < 1e-6:
        return ("profile",)
    along = float(np.dot(nose - left_eye, eye_vec) / eye_dist**2)  # 0.5 when frontal
    turn = abs(along - 0.5)
    side = "frame left" if along < 0.5 else "frame right"
    if turn < 0.12:
        words = ["frontal view facing the camera"]
    elif turn < 0.35:
        words = [f"three-quarter view turned toward {side}"]
    else:
        words = [f"profile facing {side}"]
    roll = float(np.degrees(np.arctan2(eye_vec[1], eye_vec[0])))
    if abs(roll) >= 8.0:
        amount = "slightly" if abs(roll) < 20.0 else "strongly"
        words.append(f"head tilted {amount} toward {'frame right' if roll > 0 else 'frame left'}")
    return tuple(words)


def measure_framing(request: DescribeRequest) -> Framing:
    h, w = request.image.shape[:2]
    aspect = w / h
    orientation = "landscape" if aspect > 1.15 else "portrait" if aspect < 0.87 else "square"
    pose: tuple[str, ...] = ()
    shot: str | None
    landmarks = request.landmarks
    if landmarks is not None and request.asset_type == AssetType.CHARACTER:
        pose = face_pose(landmarks)
    if request.is_face:
        # A face crop is some kind of close-up; landmarks say how tightly it holds the face.
        shot = "close-up"
        if landmarks is not None:
            pose = face_pose(landmarks)
            eye_dist = float(np.linalg.norm(landmarks[1] - landmarks[0]))
            tightness = eye_dist / w
            shot = "extreme close-up" if tightness >= 0.5 else "close-up" if tightness >= 0.25 else "medium close-up"
        elif request.frame_fraction is not None and request.frame_fraction < 0.01:
            shot = "medium close-up"  # a tiny face in a large photo: head-and-shoulders at best
    elif request.asset_type == AssetType.STYLE:
        shot = None
    elif request.asset_type == AssetType.ENVIRONMENT:
        fraction = request.frame_fraction
        shot = "wide shot" if fraction is None or fraction >= 0.5 else "medium shot"
    else:
        fraction = request.frame_fraction
        if fraction is None:
            shot = None
        elif fraction >= 0.85:
            shot = "detail close-up"
        elif fraction >= 0.5:
            shot = "close-up"
        elif fraction >= 0.15:
            shot = "medium shot"
        else:
            shot = "wide shot"
    return Framing(orientation, shot, pose)


# ---------------------------------------------------------------------------------------------- regions


@dataclass(frozen=True)
class _Face:
    """A face in analysis pixels: eyes' midpoint (cx, eye_y), eye distance d, mouth line and chin."""

    cx: float
    eye_y: float
    d: float
    mouth_y: float
    chin: float
    known: bool  # from landmarks or a given box, not guessed from skin colour


def _face_from_box(x1: float, y1: float, x2: float, y2: float, known: bool) -> _Face:
    """A detector-style face box (forehead to chin) read as eye line, eye distance and mouth line."""
    fw, fh = x2 - x1, y2 - y1
    return _Face((x1 + x2) / 2, y1 + 0.40 * fh, 0.44 * fw, y1 + 0.78 * fh, y2, known)


def _skin_mask(rgb: Array) -> Array:
    """Pixels of a plausible skin colour (the classic YCrCb box)."""
    ycrcb = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YCrCb)
    y, cr, cb = ycrcb[..., 0], ycrcb[..., 1], ycrcb[..., 2]
    mask: Array = (cr >= 135) & (cr <= 175) & (cb >= 80) & (cb <= 130) & (y >= 45)
    return mask


def _find_face(rgb: Array) -> _Face | None:
    """The face in a person crop without landmarks: the biggest skin blob high in the crop."""
    h, w = rgb.shape[:2]
    raw: Array = _skin_mask(rgb).astype(np.uint8)
    raw[int(h * (0.45 if h / w >= 1.3 else 0.6)) :] = 0  # a standing person's head is near the top
    mask = cv2.morphologyEx(raw, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    best: tuple[float, int] | None = None
    for index in range(1, count):
        x, y, bw, bh, area = (int(v) for v in stats[index])
        if area < 0.002 * h * w or area < 12 or bw < 4:
            continue
        if not 0.6 <= bh / bw <= 2.6 or area / (bw * bh) < 0.35 or bw > 0.5 * w:
            continue
        score = area * (1.0 - y / h) ** 2
        if best is None or score > best[0]:
            best = (score, index)
    if best is None:
        return None
    x, y, bw, bh, _ = (int(v) for v in stats[best[1]])
    # Light hair passes for skin and a blob may run down the neck: the geometry hangs from the chin
    # (the blob's bottom, at most 1.35 widths down) and the blob's width, not from its top.
    d = 0.40 * bw
    chin = y + min(bh, 1.35 * bw)
    mouth_y = chin - 0.65 * d
    return _Face(x + bw / 2, mouth_y - 1.05 * d, d, mouth_y, chin, known=False)


def _pixels(lab: Array, x1: float, y1: float, x2: float, y2: float, mask: Array | None = None) -> Array:
    """Lab pixels (N, 3) of a rectangle clipped to the image (and to ``mask`` where given)."""
    h, w = lab.shape[:2]
    left, right = max(0, round(x1)), min(w, round(x2))
    top, bottom = max(0, round(y1)), min(h, round(y2))
    if right - left < 2 or bottom - top < 2:
        return np.zeros((0, 3), np.float32)
    region = lab[top:bottom, left:right]
    if mask is not None:
        return np.asarray(region[mask[top:bottom, left:right]], np.float32)
    return np.asarray(region.reshape(-1, region.shape[-1]), np.float32)


def skin_tone(lab: Array) -> str | None:
    """Plain neutral words for a skin colour (its median Lab), from the individual typology angle
    (ITA = atan((L - 50) / b)); None where the colour is not a skin colour at all."""
    lightness, a, b = (float(v) for v in lab)
    chroma, hue = math.hypot(a, b), math.degrees(math.atan2(b, a))
    if not (4.0 <= chroma <= 50.0 and 5.0 <= hue <= 95.0):
        return None
    ita = math.degrees(math.atan2(lightness - 50.0, b))
    if ita > 55:
        return "very light"
    if ita > 41:
        return "light"
    if ita > 28:
        return "medium"
    if ita > 10:
        return "tan"
    if ita > -30:
        return "brown"
    return "deep brown"


def hair_colour(lab: Array) -> str | None:
    """A hair colour word for a Lab value; None for a dull colour no hair has (the region held
    background or a hat, not hair)."""
    lightness, a, b = (float(v) for v in lab)
    chroma, hue = math.hypot(a, b), math.degrees(math.atan2(b, a))
    if lightness < 20:
        return "black"
    if chroma < 7:
        if lightness < 32:
            return "black"
        return "grey" if lightness < 62 else "silver" if lightness < 80 else "white"
    if not -20 <= hue <= 110:
        return colour_name(lab) if chroma >= 35 else None  # dyed: blue, pink, green...
    if chroma > 45:
        return colour_name(lab)
    if lightness < 30:
        return "dark brown"
    if hue < 50 and chroma > 25:
        return "auburn" if lightness < 45 else "red"
    if lightness < 44:
        return "brown"
    if lightness < 58:
        return "light brown" if chroma < 28 or hue < 60 else "dark blonde"
    if chroma < 16:
        # Pale and nearly colourless: blonde only when the little colour there is is yellow;
        # grey hair under warm light leans to red instead.
        return "platinum blonde" if hue >= 60 else "grey" if lightness < 72 else "silver"
    return "blonde"


def measure_person(
    rgb: Array, request: DescribeRequest, background: Background, body: Array | None = None
) -> PersonLook:
    """Hair, skin, clothing by body region, shot size and light side of a person crop (analysis scale).

    ``body`` (H×W bool at ``rgb``'s size) marks the person's own pixels in a person crop: clothing is
    sampled across the whole width of each body band inside it, so that a leaning or off-centre
    person is still measured on their clothes, not on what is beside them."""
    h, w = rgb.shape[:2]
    scale = w / request.image.shape[1]
    lab = _to_lab(rgb)
    face: _Face | None = None
    if request.landmarks is not None:
        points = np.asarray(request.landmarks, np.float64) * scale
        d = float(np.linalg.norm(points[1] - points[0]))
        if d >= 2.0:
            cx, eye_y = float((points[0][0] + points[1][0]) / 2), float((points[0][1] + points[1][1]) / 2)
            mouth_y = float(points[3:5, 1].mean()) if len(points) >= 5 else eye_y + 1.05 * d
            face = _Face(cx, eye_y, d, mouth_y, mouth_y + 0.65 * d, True)
    if face is None and request.face_box is not None:
        x1, y1, x2, y2 = (v * scale for v in request.face_box)
        face = _face_from_box(x1, y1, x2, y2, known=True)
    if face is None and request.is_face:
        pad = 0.3 / 1.6  # the pipeline's face crops hold the face box with 30 % of its size around it
        face = _face_from_box(w * pad, h * pad, w * (1 - pad), h * (1 - pad), known=True)
    if face is None:
        face = _find_face(rgb)

    skin_lab: Array | None = None
    skin: str | None = None
    hair: str | None = None
    hair_length: str | None = None
    light_side: str | None = None
    upper: tuple[str, ...] = ()
    lower: tuple[str, ...] = ()
    upper_bare = lower_bare = False
    generic_skin = _skin_mask(rgb)[..., None].astype(np.float32)

    def clothing(
        box: tuple[float, float, float, float], skin_ref: Array | None, band: tuple[float, float] | None = None
    ) -> tuple[tuple[str, ...], bool]:
        """The clothing colours in a body region (skin left out), or that the region is bare skin.
        With a body mask, the ``band`` of rows (top, bottom) across the whole crop inside the mask."""
        pixels = skin_pixels = np.zeros((0, 3), np.float32)
        if body is not None and band is not None:
            pixels = _pixels(lab, 0, band[0], w, band[1], mask=body)
            skin_pixels = _pixels(generic_skin, 0, band[0], w, band[1], mask=body)
        if len(pixels) < 20:
            pixels = _pixels(lab, *box)
            skin_pixels = _pixels(generic_skin, *box)
        if len(pixels) < 20:
            return (), False
        generic = float(skin_pixels.mean())
        if skin_ref is not None:
            is_skin = _delta(pixels, skin_ref) < SKIN_DE
            share = float(is_skin.mean())
        else:  # no measured skin colour: the generic skin-colour test decides alone
            is_skin = np.zeros(len(pixels), bool)
            share = generic
        # Bare skin must pass both tests: beige or tan cloth can match a measured skin colour.
        if share >= BARE_SHARE and generic >= BARE_GENERIC_SHARE:
            return (), True
        cloth = pixels[~is_skin]
        if len(cloth) < 20 or len(cloth) < CLOTH_MIN_SHARE * len(pixels):
            return (), False
        return _colour_list(dominant_colours(cloth)), False

    if face is not None:
        d = face.d
        # The upper cheeks and the nose: below the eyes, above any moustache or beard.
        bottom = min(face.eye_y + 0.7 * d, face.mouth_y - 0.15 * d)
        skin_pixels = _pixels(lab, face.cx - 0.6 * d, face.eye_y + 0.25 * d, face.cx + 0.6 * d, bottom)
        if len(skin_pixels) >= 12:
            # The brighter half: glasses, brows, beard and shadows are darker than the skin they cover.
            low, high = np.percentile(skin_pixels[:, 0], [40, 92])
            middle = skin_pixels[(skin_pixels[:, 0] >= low) & (skin_pixels[:, 0] <= high)]
            candidate = np.median(middle if len(middle) else skin_pixels, axis=0)
            skin = skin_tone(candidate)
            if skin is not None:
                skin_lab = candidate
        if skin_lab is None and not face.known:
            face = None  # the blob was not skin after all
    if face is not None:
        d = face.d
        head = HEAD_D * d
        # Hair: above the eyebrows, inside the head's width; skin (forehead) left out.
        region = _pixels(lab, face.cx - 0.8 * d, face.eye_y - 1.55 * d, face.cx + 0.8 * d, face.eye_y - 0.8 * d)
        if len(region) >= 20:
            not_skin = region if skin_lab is None else region[_delta(region, skin_lab) >= HAIR_SKIN_DE]
            if len(not_skin) >= HAIR_MIN_SHARE * len(region):
                ranked = dominant_colours(not_skin, k=2)
                # Forehead in other light can pass the skin test; of two colours, hair is the one
                # further from the skin when the larger one is close to it.
                hair_lab = ranked[0][2]
                near_skin = skin_lab is not None and float(_delta(hair_lab[None, :], skin_lab)[0]) < 2 * HAIR_SKIN_DE
                if near_skin and len(ranked) > 1 and ranked[1][1] >= 0.25:
                    hair_lab = ranked[1][2]
                hair = hair_colour(hair_lab)
                hair_length = _hair_length(lab, face, hair_lab, background) if hair else None
        if skin_lab is not None:
            left = _pixels(lab, face.cx - 0.95 * d, face.eye_y, face.cx - 0.2 * d, face.mouth_y)
            right = _pixels(lab, face.cx + 0.2 * d, face.eye_y, face.cx + 0.95 * d, face.mouth_y)
            left = left[_delta(left, skin_lab) < 2 * SKIN_DE][:, 0] if len(left) else left
            right = right[_delta(right, skin_lab) < 2 * SKIN_DE][:, 0] if len(right) else right
            light_side = _light_side(np.asarray(left), np.asarray(right))
        if request.is_face:
            # A face crop shows only the neckline below the chin: its colour, never "bare".
            top = face.chin + 0.15 * d
            if h - top >= 0.35 * d:
                upper, _ = clothing((face.cx - 0.9 * d, top, face.cx + 0.9 * d, h), skin_lab)
        else:
            # A head is HEAD_D eye distances; the torso runs about two heads below the chin, the
            # legs from two and a half heads down; both are sampled near the body's middle line.
            chest = (face.cx - 0.5 * head, face.chin + 0.2 * head, face.cx + 0.5 * head, face.chin + 1.9 * head)
            upper, upper_bare = clothing(chest, skin_lab, (chest[1], chest[3]))
            if h - (face.chin + 2.6 * head) >= 0.8 * head:
                legs = (face.cx - 0.4 * head, face.chin + 2.6 * head, face.cx + 0.4 * head, face.chin + 4.6 * head)
                lower, lower_bare = clothing(legs, skin_lab, (legs[1], legs[3]))
    elif not request.is_face:
        # No face to go by: clothing by bands of the crop, skin by colour alone.
        tall = h / w >= 1.8
        bands = [(0.22, 0.5), (0.58, 0.86)] if tall else [(0.4, 0.9)]
        found = [clothing((0.3 * w, y0 * h, 0.7 * w, y1 * h), None, (y0 * h, y1 * h)) for y0, y1 in bands]
        upper, upper_bare = found[0]
        if len(found) > 1:
            lower, lower_bare = found[1]

    shot = _person_shot(request, face, h, w)
    return PersonLook(
        shot=shot,
        face_found=face is not None,
        skin=skin,
        hair=hair,
        hair_length=hair_length,
        upper=upper,
        upper_bare=upper_bare,
        lower=lower,
        lower_bare=lower_bare,
        light_side=light_side,
    )


def _hair_length(lab: Array, face: _Face, hair_lab: Array, background: Background) -> str | None:
    """Long where hair-coloured pixels fill both sides beside and below the jaw; short where the
    sides at eye level show no hair; None where it cannot be told (hair the colour of the background)."""
    d = face.d
    if background.lab is not None and float(_delta(hair_lab[None, :], np.asarray(background.lab))[0]) < 15.0:
        return None

    def share(x1: float, x2: float, y1: float, y2: float) -> float | None:
        pixels = _pixels(lab, x1, y1, x2, y2)
        if len(pixels) < 15:
            return None
        return float((_delta(pixels, hair_lab) < SKIN_DE).mean())

    jaw = (face.mouth_y, face.chin + 0.6 * d)
    sides = [share(face.cx - 1.5 * d, face.cx - 1.0 * d, *jaw), share(face.cx + 1.0 * d, face.cx + 1.5 * d, *jaw)]
    seen = [s for s in sides if s is not None]
    if len(seen) == 2 and min(seen) >= HAIR_SIDE_SHARE:
        return "long"
    eyes = (face.eye_y - 0.2 * d, face.mouth_y)
    ears = [share(face.cx - 1.35 * d, face.cx - 1.0 * d, *eyes), share(face.cx + 1.0 * d, face.cx + 1.35 * d, *eyes)]
    seen = [s for s in ears if s is not None]
    if len(seen) == 2 and max(seen) < 0.15 and (not sides or all(s is None or s < 0.15 for s in sides)):
        return "short"
    return None


def _person_shot(request: DescribeRequest, face: _Face | None, h: int, w: int) -> str:
    """Shot size of a person: face crops by how tightly they hold the face, else head heights in frame."""
    if request.is_face:
        return measure_framing(request).shot or "close-up"
    if face is not None:
        heads = (h - max(0.0, face.eye_y - 1.7 * face.d)) / (HEAD_D * face.d)
        if heads < 1.8:
            return "close-up"
        if heads < 3.0:
            return "medium close-up"
        if heads < 5.0:
            return "medium shot"
        return "full-body shot"
    return "full-body shot" if h / w >= 2.0 else "medium shot"


def measure_background(rgb: Array) -> tuple[Background, Array]:
    """The border ring's colours and busyness, and whether it is much softer than the centre; also
    the ring's mask."""
    h, w = rgb.shape[:2]
    ring = max(2, round(min(h, w) * BORDER))
    mask = np.ones((h, w), bool)
    mask[ring : h - ring, ring : w - ring] = False
    lab = _to_lab(rgb)
    ranked = dominant_colours(lab[mask])
    gray = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(gray, 60, 160) > 0
    ring_edges = float(edges[mask].mean())
    lap = cv2.Laplacian(gray.astype(np.float32), cv2.CV_32F)
    inner = ~mask
    blurred = False
    if inner.any():
        centre_var = float(lap[inner].var())
        ring_var = float(lap[mask].var())
        blurred = centre_var > 60.0 and ring_var < BLUR_RATIO * centre_var
    top_share = ranked[0][1] if ranked else 0.0
    plain = top_share >= 0.75 and ring_edges < 0.03
    colours = _colour_list(ranked, share=0.3)
    main = (float(ranked[0][2][0]), float(ranked[0][2][1]), float(ranked[0][2][2])) if ranked else None
    return Background(colours, plain, ring_edges >= BUSY_EDGES, blurred, main), mask


_GRABCUT_LOCK = threading.Lock()


def _foreground(rgb: Array, inner: tuple[int, int, int, int], ring: Array) -> Array:
    """The thing's pixels: GrabCut started from the box (the crop less its padding); where that finds
    too little or nearly everything, the pixels inside the box unlike the border; else the centre."""
    h, w = rgb.shape[:2]
    x, y, bw, bh = inner
    mask = np.zeros((h, w), np.uint8)
    if bw >= 8 and bh >= 8:
        try:
            with _GRABCUT_LOCK:  # GrabCut seeds its colour models from OpenCV's global generator
                cv2.setRNGSeed(KMEANS_SEED)
                cv2.grabCut(
                    cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR),
                    mask,
                    (x, y, bw, bh),
                    np.zeros((1, 65), np.float64),
                    np.zeros((1, 65), np.float64),
                    GRABCUT_ITERATIONS,
                    cv2.GC_INIT_WITH_RECT,
                )
        except cv2.error:  # a crop of one flat colour has nothing to separate
            mask[:] = 0
    subject: Array = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
    box_area = max(1, bw * bh)
    if 0.1 <= float(subject.sum()) / box_area <= 0.95:
        return subject
    lab = _to_lab(rgb)
    inside = np.zeros((h, w), bool)
    inside[y : y + bh, x : x + bw] = True
    far = inside.copy()
    for _, share, centre in dominant_colours(lab[ring]):
        if share >= 0.1:
            far &= _delta(lab, centre) > FOREGROUND_DE
    if 0.12 <= float(far.sum()) / box_area <= 0.97:
        return far
    centre_mask = np.zeros((h, w), bool)
    centre_mask[h // 4 : h - h // 4, w // 4 : w - w // 4] = True
    return centre_mask


_NEUTRALS = frozenset({"black", "charcoal", "grey", "silver", "white", "cream", "beige", "taupe"})
_SHADABLE = frozenset({"red", "orange", "yellow", "green", "blue", "pink", "purple", "grey", "teal", "gold"})


def _shade(name: str, lab: Array) -> str:
    """'deep red', 'pale blue': a basic colour name with its lightness where that is far from typical."""
    if name not in _SHADABLE:
        return name
    lightness = float(lab[0])
    return f"deep {name}" if lightness < 32 else f"pale {name}" if lightness > 80 else name


def _same_hue(first: Array, second: Array) -> bool:
    """Two colours that differ only in lightness or strength (both hued, hue angles close), or that
    are simply near each other."""
    if float(_delta(np.asarray(first)[None, :], second)[0]) < SAME_COLOUR_DE:
        return True
    chroma = (math.hypot(float(first[1]), float(first[2])), math.hypot(float(second[1]), float(second[2])))
    if min(chroma) < 15:
        return False
    angle = abs(math.atan2(float(first[2]), float(first[1])) - math.atan2(float(second[2]), float(second[1])))
    return math.degrees(min(angle, 2 * math.pi - angle)) < SAME_HUE_DEGREES


def thing_colours(ranked: list[tuple[str, float, Array]]) -> tuple[str, ...]:
    """A thing's colours as people name them: a clear hue beats a neutral one (a red motorcycle with a
    black seat and tyres is red), then the next colours that cover enough of it."""
    big = [c for c in ranked if c[1] >= ACCENT_SHARE] or ranked[:1]
    if not big:
        return ()
    main = big[0]
    if main[0] in _NEUTRALS:
        hued = [c for c in big if c[0] not in _NEUTRALS and math.hypot(float(c[2][1]), float(c[2][2])) > 20]
        if hued and hued[0][1] >= 0.2:
            main = hued[0]
    # Shades of the main colour (red and brick red on one tank) are not details of their own.
    rest = [c for c in big if c is not main and not _same_hue(c[2], main[2])]
    names = [_shade(main[0], main[2])]
    names += [_shade(c[0], c[2]) for c in rest[:1] if c[1] >= SECOND_COLOUR_SHARE or main is not big[0]]
    names += [_shade(c[0], c[2]) for c in rest[1:2] if c[1] >= ACCENT_SHARE]
    return tuple(dict.fromkeys(names))


def measure_thing(rgb: Array, request: DescribeRequest, ring: Array, background: Background) -> ThingLook:
    """The thing's own colours (its foreground), its texture, where it sits, how it stands out from
    the background and which side the light comes from."""
    h, w = rgb.shape[:2]
    lab = _to_lab(rgb)
    # Detection crops carry OBJECT_PADDING (10 % of the box) on each side: the box is the inner 83 %.
    margin = 0.083 if request.detection_class else 0.05
    my, mx = round(h * margin), round(w * margin)
    subject = _foreground(rgb, (mx, my, w - 2 * mx, h - 2 * my), ring)
    colours = dominant_colours(lab[subject], k=4)
    names = thing_colours(colours)
    animal = (request.detection_class or "") in ANIMAL_CLASSES
    texture = _texture(lab, subject, colours, animal)
    lightness = lab[..., 0]
    half = w // 2
    left = lightness[:, :half][subject[:, :half]]
    right = lightness[:, half:][subject[:, half:]]
    _, xs = np.nonzero(subject)
    position: str | None = None
    if len(xs):
        offset = float(xs.mean()) / w - 0.5
        position = (
            "centred in the frame"
            if abs(offset) < 0.12
            else f"placed toward {'frame left' if offset < 0 else 'frame right'}"
        )
    stands_out: str | None = None
    if background.lab is not None and len(xs):
        difference = float(np.median(lightness[subject])) - background.lab[0]
        stands_out = "lighter" if difference < -20 else "darker" if difference > 20 else None
    return ThingLook(names, texture, _light_side(left, right), position, stands_out)


def _texture(lab: Array, subject: Array, colours: list[tuple[str, float, Array]], animal: bool = False) -> str | None:
    """A material-like texture word from local statistics inside the subject: patterned (strong
    mid-scale contrast between two or more colours), rough (much fine detail), glossy (small, bright,
    neutral highlights on a darker surface), smooth (little fine detail), else matte."""
    core = cv2.erode(subject.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    if core.sum() < 60:
        return None
    lightness = lab[..., 0].astype(np.float32)
    fine = float(np.abs(lightness - cv2.GaussianBlur(lightness, (0, 0), 1.0))[core].mean())
    mid = float(np.abs(lightness - cv2.GaussianBlur(lightness, (0, 0), 3.0))[core].mean())
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    local = lightness - cv2.GaussianBlur(lightness, (0, 0), 4.0)
    highlights = float(((local > 12) & (lightness >= 80) & (chroma < 18))[core].mean())
    median_l = float(np.median(lightness[core]))
    variety = sum(1 for _, share, _ in colours if share >= 0.2)
    if mid >= PATTERN_MID and variety >= 2:
        return "patterned"
    if fine >= ROUGH_DETAIL:
        return "shaggy, textured" if animal else "rough, textured"
    if not animal and GLOSS_MIN <= highlights <= GLOSS_MAX and median_l < 80:
        return "smooth and glossy"
    if fine < SMOOTH_DETAIL:
        return "sleek" if animal else "smooth, matte"
    return "soft" if animal else "matte"


def measure_scene(rgb: Array) -> SceneLook:
    """Sky and foreground bands, dominant lines, detail, vignetting and grain of a whole picture."""
    h, w = rgb.shape[:2]
    lab = _to_lab(rgb)
    lightness = lab[..., 0]
    fine = np.abs(lightness - cv2.GaussianBlur(lightness, (0, 0), 1.0))
    top = lab[: max(1, h // 4)]
    sky: str | None = None
    top_ranked = dominant_colours(top.reshape(-1, 3), k=2)
    if top_ranked and float(fine[: max(1, h // 4)].mean()) < 2.5:
        name, _, centre = top_ranked[0]
        hue = math.degrees(math.atan2(float(centre[2]), float(centre[1])))
        chroma = math.hypot(float(centre[1]), float(centre[2]))
        if chroma > 8 and -150 <= hue <= -60:
            sky = f"{'deep ' if centre[0] < 45 else ''}{'blue' if 'blue' not in name else name} sky"
        elif centre[0] > 80 and chroma < 8:
            sky = "pale overcast sky"
        elif centre[0] < 20:
            sky = "dark sky"
    bottom = dominant_colours(lab[h - max(1, h // 4) :].reshape(-1, 3), k=2)
    foreground = bottom[0][0] if bottom else None
    gray = np.clip(lightness * 2.55, 0, 255).astype(np.float32)
    gx = np.abs(cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3))
    gy = np.abs(cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3))
    strong = np.hypot(gx, gy) > 60
    vertical = float((strong & (gx > 2.5 * gy)).mean())
    horizontal = float((strong & (gy > 2.5 * gx)).mean())
    lines: str | None = None
    if vertical > 1.6 * horizontal and vertical > 0.01:
        lines = "strong vertical lines"
    elif horizontal > 1.6 * vertical and horizontal > 0.01:
        lines = "strong horizontal lines"
    density = float(strong.mean())
    detail = "sparse" if density < 0.04 else "dense" if density > 0.15 else "moderate"
    cy, cx = h // 2, w // 2
    centre_l = float(lightness[cy - h // 6 : cy + h // 6 + 1, cx - w // 6 : cx + w // 6 + 1].mean())
    corner = max(1, min(h, w) // 8)
    corners = [
        lightness[:corner, :corner],
        lightness[:corner, -corner:],
        lightness[-corner:, :corner],
        lightness[-corner:, -corner:],
    ]
    vignette = centre_l - float(np.mean([c.mean() for c in corners])) > 18.0
    flat = fine < 3.0
    noise = float(fine[flat].mean()) if flat.any() else 0.0
    grain = "heavy grain" if noise > 1.4 else "fine grain" if noise > 0.8 else "clean"
    glow = cv2.GaussianBlur(lightness.astype(np.float32), (0, 0), max(2.0, min(h, w) / 12))
    brightest: str | None = None
    if float(glow.max()) - float(np.median(glow)) > 15.0:
        by, bx = np.unravel_index(int(np.argmax(glow)), glow.shape)
        row = "upper" if by < h / 3 else "lower" if by > 2 * h / 3 else ""
        col = "left" if bx < w / 3 else "right" if bx > 2 * w / 3 else ""
        if row and col:
            brightest = f"the {row} {col} of the frame"
        elif row:
            brightest = f"the {row} part of the frame"
        elif col:
            brightest = f"the {col} side of the frame"
        else:
            brightest = "the centre of the frame"
    low, high = np.percentile(lightness, [3, 97])
    shadows = "deep black shadows" if low < 6 else "lifted, faded shadows" if low > 22 else None
    highlights = "bright, clean highlights" if high > 92 else "soft, muted highlights" if high < 65 else None
    return SceneLook(sky, foreground, lines, detail, vignette, grain, brightest, shadows, highlights)


# ---------------------------------------------------------------------------------------------- lettering

_VOWELS = set("aeiouyàáâãäåèéêëìíîïòóôõöùúûüýÿæœ")


def _word_like(token: str) -> bool:
    """A run of letters that reads as a word: one case pattern, vowels, no long consonant runs."""
    if len(token) <= 1:
        return True
    if not (token.isupper() or token.islower() or (token[0].isupper() and token[1:].islower())):
        return False
    lowered = token.lower()
    if len(lowered) < 4:
        return True
    vowels = sum(ch in _VOWELS for ch in lowered)
    if not 0.2 <= vowels / len(lowered) <= 0.8:
        return False
    run = longest = 0
    for ch in lowered:
        run = 0 if ch in _VOWELS else run + 1
        longest = max(longest, run)
    return longest <= 4


def readable(text: str, confidence: float) -> bool:
    """Whether an OCR string reads as words with good confidence: mostly letters, every word one case
    pattern with a plausible vowel/consonant mix, and no letters and digits mixed inside a long word."""
    if confidence < OCR_MIN_CONFIDENCE:
        return False
    chars = [ch for ch in text if not ch.isspace()]
    letters = sum(ch.isalpha() for ch in chars)
    if letters < 3 or letters < 0.6 * len(chars):
        return False
    for token in re.split(r"[^\w]+|_", text):
        if not token:
            continue
        has_alpha, has_digit = any(ch.isalpha() for ch in token), any(ch.isdigit() for ch in token)
        if has_alpha and has_digit and len(token) > 3:
            return False
        if has_alpha and not has_digit and not _word_like(token):
            return False
    return True


# ---------------------------------------------------------------------------------------------- words


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


# ImageNet words that name a kind of a detector class ("sports car" is a car, "moped" a motorcycle).
REFINEMENTS: dict[str, frozenset[str]] = {
    "cup": frozenset({"cup", "mug", "espresso", "coffee mug"}),
    "car": frozenset({"car", "cab", "jeep", "limousine", "minivan", "convertible", "wagon", "racer"}),
    "motorcycle": frozenset({"motorcycle", "moped", "scooter", "motor scooter"}),
    "bicycle": frozenset({"bicycle", "bike", "tricycle", "unicycle", "mountain bike"}),
    "bus": frozenset({"bus", "trolleybus", "school bus", "minibus"}),
    "truck": frozenset({"truck", "trailer", "pickup", "van", "tow truck", "fire engine"}),
    "boat": frozenset({"boat", "canoe", "yacht", "liner", "schooner", "gondola", "speedboat", "lifeboat"}),
    "train": frozenset({"train", "locomotive", "streetcar", "bullet train"}),
    "airplane": frozenset({"airliner", "warplane", "airship", "plane"}),
    "tv": frozenset({"television", "monitor", "screen"}),
    "couch": frozenset({"couch", "sofa", "studio couch"}),
    "dining table": frozenset({"table", "dining table", "desk"}),
    "cell phone": frozenset({"cellular telephone", "phone", "iPod"}),
    "cat": frozenset({"cat", "tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"}),
    "dog": frozenset({"dog", "terrier", "retriever", "spaniel", "hound", "poodle", "shepherd"}),
}


def refines(label: str, class_name: str) -> bool:
    """Whether an ImageNet label names a kind of the detected class (so it may replace it)."""
    words = set(label.lower().split())
    if class_name.split()[-1].lower() in words:
        return True
    return any(
        term.lower() == label.lower() or term.lower() in words for term in REFINEMENTS.get(class_name, frozenset())
    )


def _join(items: list[str] | tuple[str, ...]) -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _clip_name(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut if cut else text[:limit]


def _first_name(label: str) -> str:
    return label.split(",")[0].strip()


_WORDS = re.compile(r"[\w'-]+")


def word_count(text: str) -> int:
    return len(_WORDS.findall(text))


def _no_repeats(text: str) -> str:
    """Collapse a word or two-word phrase said twice in a row ("look look", "dark brown dark brown")."""
    text = re.sub(r"\b(\w+(?:[ -]\w+)?)(?:\s+\1\b)+", r"\1", text, flags=re.IGNORECASE)
    return text


def _compose(
    parts: Sequence[tuple[int, str]], extras: Sequence[str], low: int, high: int, *, lead: str = "", joiner: str = ", "
) -> str:
    """Sentences (priority, text) in order, extra phrases (joined by ``joiner`` into one last sentence)
    added until ``low`` words, then the least important sentences dropped (highest priority number,
    latest first) until at most ``high``. A sentence that starts with ``lead`` (the user's name) keeps
    its case; the others start with a capital."""
    kept = [(p, s.strip().rstrip(".")) for p, s in parts if s and s.strip()]

    def render(items: list[tuple[int, str]], more: list[str]) -> str:
        sentences = [s for _, s in items]
        if more:
            sentences.append(joiner.join(more))
        out = []
        for sentence in sentences:
            if not (lead and sentence.startswith(lead)):
                sentence = _capital(sentence)
            out.append(sentence + ".")
        return _no_repeats(" ".join(out))

    more: list[str] = []
    for extra in extras:
        if word_count(render(kept, more)) >= low:
            break
        more.append(extra)
    while word_count(render(kept, more)) > high:
        if more:
            more.pop()
            continue
        droppable = [i for i, (p, _) in enumerate(kept) if p > 0]
        if not droppable:
            break
        del kept[max(droppable, key=lambda i: (kept[i][0], i))]
    return render(kept, more)


def _light_words(light: Lighting) -> str:
    level = {"dim": "dim", "even": "soft, even", "bright": "bright"}[light.brightness]
    return f"{level} {light.temperature} light"


def _background_words(background: Background, tone: str | None = None) -> str:
    """'against a busy, lighter grey and taupe background, softly out of focus'; ``tone`` says whether
    the background is lighter or darker than the subject."""
    colours = _join(background.colours) or "neutral"
    kind = "plain" if background.plain else "busy" if background.busy else "simple"
    first = colours.split()[0]
    if tone and first not in {"dark", "light", "pale", "deep", "black", "white", "midnight"}:
        kind = f"{kind}, {tone}"
    focus = ", softly out of focus" if background.blurred and not background.plain else ""
    return f"against {_article(kind)} {kind} {colours} background{focus}"


def _lettering(text: tuple[str, ...]) -> str | None:
    if not text:
        return None
    return "lettering " + _join([f'"{t}"' for t in text])


def _time_of_day(light: Lighting) -> tuple[str, str]:
    """(a definite light phrase for a prompt, the guess it rests on for the production bible)."""
    if light.brightness == "dim":
        return {
            "warm": ("warm evening lamplight", "evening or lamplight"),
            "cool": ("cool blue-hour light after dusk", "night or blue hour"),
            "neutral": ("low dusk light", "dusk or an unlit interior"),
        }[light.temperature]
    if light.brightness == "bright":
        return {
            "warm": ("warm late-afternoon sunlight", "late-afternoon sun"),
            "cool": ("cool bright daylight", "midday or overcast daylight"),
            "neutral": ("bright neutral daylight", "daylight"),
        }[light.temperature]
    return (
        f"soft even {light.temperature} light" if light.temperature != "neutral" else "soft even light",
        "no clear time of day",
    )


def _mood(light: Lighting) -> str:
    """An atmosphere word pair for the light's level and colour."""
    return {
        ("dim", "warm"): "an intimate, moody atmosphere",
        ("dim", "neutral"): "a quiet, moody atmosphere",
        ("dim", "cool"): "a cold, mysterious atmosphere",
        ("even", "warm"): "a calm, inviting atmosphere",
        ("even", "neutral"): "a calm, natural atmosphere",
        ("even", "cool"): "a calm, crisp atmosphere",
        ("bright", "warm"): "a sunny, cheerful atmosphere",
        ("bright", "neutral"): "an airy, open atmosphere",
        ("bright", "cool"): "a clean, airy atmosphere",
    }[(light.brightness, light.temperature)]


def _palette_words(palette: Palette) -> str:
    names = [s.name for s in palette.swatches[:3]]
    if len(names) == 1:
        return f"almost entirely {names[0]}"
    if palette.swatches[0].share >= 0.5:
        return f"dominant {names[0]} with {_join(names[1:])} accents"
    return f"{_join(names)} tones"


def _palette_facts(palette: Palette) -> str:
    """The palette in words, largest first, with how much of the picture each covers (no numbers)."""

    def amount(share: float) -> str:
        return "mostly" if share >= 0.5 else "much" if share >= 0.25 else "some"

    return ", ".join(f"{amount(s.share)} {s.name}" for s in palette.swatches[:4])


# ---------------------------------------------------------------------------------------------- describer


class OfflineDescriber(Describer):
    """Writes descriptions from local measurements: regions, colours, light, framing, labels, lettering.

    ``classifier`` adds ImageNet labels (none are used without one; `from_settings` builds it when
    its weights are present). ``ocr`` adds lettering read by rapidocr_onnxruntime where that package
    is installed; without it the describer runs silently without lettering. The ``model`` string of
    each description lists what ran for it, e.g. ``offline(mobilenet_v2_imagenet+rapidocr)``.
    """

    name: ClassVar[str] = "offline"
    prompt_version: ClassVar[str] = "offline-2"

    def __init__(
        self,
        classifier: ImageNetClassifier | None = None,
        *,
        ocr: bool = True,
        label_threshold: float | None = None,
        max_labels: int = 3,
        faces: FaceDetector | None = None,
    ) -> None:
        self.classifier = classifier
        self.faces = faces
        self.label_threshold = label_threshold
        self.max_labels = max_labels
        self._ocr_wanted = ocr and importlib.util.find_spec("rapidocr_onnxruntime") is not None
        self._ocr_engine: Any = None
        self._ocr_failed = False
        self._ocr_lock = threading.Lock()
        self.ocr_seconds = 0.0  # time spent inside the OCR models, for benchmarks

    @classmethod
    def from_settings(cls, settings: Settings | None = None, *, ocr: bool = True) -> OfflineDescriber:
        """A describer with the ImageNet classifier and the settings' face detector (which finds the
        face in a person crop) when their weights are in the model folder."""
        settings = settings or get_settings()
        classifier = ImageNetClassifier.if_present(settings)
        if classifier is None:
            logger.warning("offline describer: ImageNet classifier weights not found, describing without labels")
        faces: FaceDetector | None = None
        try:
            faces = create_face_detector(settings=settings)
            if not faces.store.is_present(faces.spec):
                faces = None
        except Exception as exc:  # an unknown detector name must not stop the describer
            logger.warning("offline describer: no face detector, finding faces by skin colour: %s", exc)
            faces = None
        return cls(classifier, ocr=ocr, faces=faces)

    @property
    def ocr_available(self) -> bool:
        return self._ocr_wanted and not self._ocr_failed

    # -- measuring

    def _labels(self, image: Array, asset_type: AssetType) -> tuple[tuple[str, float], ...]:
        assert self.classifier is not None
        threshold = self.label_threshold if self.label_threshold is not None else self.classifier.default_confidence
        top = self.classifier.classify(image, top_k=self.max_labels, min_score=threshold)
        seen: dict[str, float] = {}
        for label, prob in top:
            seen.setdefault(_first_name(label), round(prob, 3))
        return tuple(seen.items())

    def _ocr(self, image: Array) -> tuple[str, ...] | None:
        """Lettering that reads as words, in reading order, or None where OCR could not run."""
        with self._ocr_lock:
            if self._ocr_failed:
                return None
            if self._ocr_engine is None:
                try:
                    module = importlib.import_module("rapidocr_onnxruntime")
                    # Longer side capped at 960 px: the default upscales the shorter side to 736 px,
                    # three to five times slower on photos, for lettering too small to matter here.
                    self._ocr_engine = module.RapidOCR(det_limit_side_len=960, det_limit_type="max")
                except Exception as exc:  # a broken install must not stop the describer
                    logger.warning("offline describer: rapidocr unavailable, describing without lettering: %s", exc)
                    self._ocr_failed = True
                    return None
            start = time.perf_counter()
            result, _ = self._ocr_engine(np.ascontiguousarray(image[:, :, ::-1]))  # it expects BGR
            self.ocr_seconds += time.perf_counter() - start
        found: list[tuple[float, float, str]] = []
        for box, text, score in result or []:
            text = " ".join(str(text).split())
            if not readable(text, float(score)):
                continue
            corners = np.asarray(box, np.float64)
            found.append((float(corners[:, 1].min()), float(corners[:, 0].min()), text))
        found.sort()
        unique: list[str] = []
        for _, _, text in found:
            if text not in unique:
                unique.append(text)
        return tuple(unique[:OCR_MAX_STRINGS])

    def _face_in(self, image: Array) -> tuple[tuple[float, float, float, float], Array | None] | None:
        """The main face of a person crop: the most confident (times larger) one in its upper 60 %,
        searched there alone so that a small face keeps more of the detector's input."""
        assert self.faces is not None
        top = image[: max(1, math.ceil(0.6 * image.shape[0]))]
        found = self.faces.detect(np.ascontiguousarray(top), tiling=False)
        best: tuple[float, int] | None = None
        for i in range(len(found)):
            x1, y1, x2, y2 = (float(v) for v in found.xyxy[i])
            score = float(found.confidence[i]) * (x2 - x1) * (y2 - y1)
            if best is None or score > best[0]:
                best = (score, i)
        if best is None:
            return None
        x1, y1, x2, y2 = (float(v) for v in found.xyxy[best[1]])
        points = None if found.landmarks is None else np.asarray(found.landmarks[best[1]], np.float64)
        return (x1, y1, x2, y2), points

    def measure(self, request: DescribeRequest) -> Measurements:
        """Everything measured in the request's crop; `describe` writes the text from this."""
        image = request.image
        quality = assess_crop(image, landmarks=request.landmarks, is_face=request.is_face)
        parts: list[str] = []
        labels: tuple[tuple[str, float], ...] = ()
        if self.classifier is not None and quality.sharpness >= FLAT_SHARPNESS:
            labels = self._labels(image, request.asset_type)
            parts.append(self.classifier.name)
        text: tuple[str, ...] = ()
        if self.ocr_available and not request.is_face:
            read = self._ocr(image)
            if read is not None:
                text = read
                parts.append("rapidocr")
        small = _shrink(image, ANALYSIS_SIDE)
        background, ring = measure_background(small)
        person = thing = scene = None
        if request.asset_type == AssetType.CHARACTER:
            if not request.is_face and request.landmarks is None and request.face_box is None and self.faces:
                found = self._face_in(image)
                if found is not None:
                    request = dataclasses.replace(request, face_box=found[0], landmarks=found[1])
                parts.append(self.faces.name)
            large = _shrink(image, PERSON_SIDE)
            body = None
            if not request.is_face:
                h, w = small.shape[:2]
                margin = 0.083 if request.detection_class else 0.03
                my, mx = round(h * margin), round(w * margin)
                found_body = _foreground(small, (mx, my, w - 2 * mx, h - 2 * my), ring)
                size = (large.shape[1], large.shape[0])
                body = cv2.resize(found_body.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
            person = measure_person(large, request, background, body)
        elif request.asset_type in (AssetType.ENVIRONMENT, AssetType.STYLE):
            scene = measure_scene(small)
        else:
            thing = measure_thing(small, request, ring, background)
        return Measurements(
            palette=measure_palette(image),
            lighting=measure_lighting(image, quality),
            framing=measure_framing(request),
            labels=labels,
            text=text,
            quality=quality,
            parts=tuple(parts),
            background=background,
            person=person,
            thing=thing,
            scene=scene,
        )

    # -- writing

    def describe(self, request: DescribeRequest) -> Description:
        m = self.measure(request)
        kind = self._kind(request, m)
        if request.asset_type == AssetType.STYLE:
            prompt, bible = self._style(request, m)
        elif request.asset_type == AssetType.ENVIRONMENT:
            prompt, bible = self._environment(request, m, kind)
        elif request.asset_type == AssetType.CHARACTER:
            prompt, bible = self._character(request, m)
        else:
            prompt, bible = self._thing(request, m, kind)
        score = min(10.0, max(1.0, round(m.quality.score, 1)))
        return Description(
            reverse_prompt=prompt,
            visual_description=bible,
            quality_score=score,
            suggested_name=self._suggested_name(request, m, kind),
            provider=self.name,
            model=f"offline({'+'.join(m.parts) or 'pixels-only'})",
            prompt_version=self.prompt_version,
        )

    def _kind(self, request: DescribeRequest, m: Measurements) -> str:
        """What the asset is: the detector's class, refined by an ImageNet label only when that label
        is confident and names a kind of it; without a class, a confident label; else the type's noun."""
        if request.asset_type == AssetType.CHARACTER:
            return "person"  # whether the view is a face or a whole body, the asset is a person
        if request.asset_type == AssetType.STYLE:
            return "visual style"
        top, prob = m.labels[0] if m.labels else ("", 0.0)
        if request.asset_type == AssetType.ENVIRONMENT:
            return top if prob >= LABEL_ALONE_MIN and top in PLACE_LABELS else "location"
        cls = request.detection_class if request.detection_class not in (None, "", "face") else None
        if cls:
            # The detector looked at the object itself; ImageNet labels a whole crop, and the crop
            # of a table holding a cup reads "espresso". A label wins only where it refines the class.
            if prob >= LABEL_NAME_MIN and top not in CONFIRM_ONLY and refines(top, cls):
                head = cls.split()[-1]
                if head.lower() in top.lower().split():
                    return top
                return f"{top} {head}" if top in MODIFIER_LABELS else top
            return cls
        if prob >= LABEL_ALONE_MIN and top not in CONFIRM_ONLY:
            return ALONE_PHRASES.get(top, top)
        return TYPE_NOUN[request.asset_type]

    def _wearables(self, m: Measurements) -> list[str]:
        return [label for label, prob in m.labels if prob >= CHARACTER_LABEL_MIN and label in WEARABLE_LABELS]

    # .. characters

    def _character(self, request: DescribeRequest, m: Measurements) -> tuple[str, str]:
        look = m.person
        assert look is not None
        who = f"{request.name}, a person" if request.name else "a person"
        features = []
        if look.hair:
            length = f"{look.hair_length} " if look.hair_length else ""
            features.append(f"{length}{look.hair} hair")
        if look.skin:
            features.append(f"{_article(look.skin)} {look.skin} skin tone")
        subject = f"{who} with {_join(features)}" if features else who
        clothes = []
        bare = []
        if look.upper_bare:
            bare.append("bare shoulders and chest")
        elif look.upper and look.upper == look.lower:
            clothes.append(f"{_join(list(look.upper))} clothing on the upper body and legs")
        elif look.upper:
            where = "at the neckline" if request.is_face else "on the upper body"
            clothes.append(f"{_join(list(look.upper))} clothing {where}")
        if look.lower_bare:
            bare.append("bare legs")
        elif look.lower and look.lower != look.upper:
            clothes.append(f"{_join(list(look.lower))} clothing on the legs")
        carried = [ACCESSORY_PHRASES.get(a, f"with {_article(a)} {a}") for a in request.accessories]
        # A label of a kind the detector already named ("bow tie" beside a detected tie) would be a
        # second, often wrong, name for the same thing: the detector's word stands alone.
        named = {a.split()[-1].lower() for a in request.accessories}
        carried += [f"in {_article(w)} {w}" for w in self._wearables(m) if w.split()[-1].lower() not in named]
        dressed = ", ".join(
            p
            for p in (f"wearing {_join(clothes)}" if clothes else "", f"with {_join(bare)}" if bare else "", *carried)
            if p
        )
        shot = look.shot or "medium shot"
        view = f"{shot} portrait" if request.is_face else shot
        frontal = m.framing.pose[:1] == ("frontal view facing the camera",)
        camera = ", ".join(
            p
            for p in (view, *m.framing.pose, "eye-level camera" if frontal else "", f"{m.framing.orientation} frame")
            if p
        )
        light = _light_words(m.lighting)
        if look.light_side:
            light += f" falling from {look.light_side}"
        on = " on the face" if look.face_found else ""
        focus = "the face" if look.face_found else "the person"
        parts: list[tuple[int, str]] = [
            (0, subject),
            (1, dressed),
            (1, camera),
            (2, f"{light}{on}, {m.lighting.contrast} contrast"),
            (3, _background_words(m.background)),
            (3, f"{_lettering(m.text)} on the clothing or around the person" if m.text else ""),
            (
                2,
                f"photorealistic photograph, natural skin texture, sharp focus on {focus}",
            ),
            (1, "keep the same face, hairstyle, skin tone and clothing colours in every shot"),
        ]
        pool = [
            "realistic proportions and anatomy",
            "true-to-reference hair colour and hairline",
            f"{m.lighting.saturation} colour saturation",
            "consistent facial structure from shot to shot",
            "natural, relaxed expression",
            "accurate clothing fit and folds",
            "clean, uncluttered composition",
            "no extra people in frame",
            "no text or logos added",
            "natural skin shading",
            "believable fabric texture",
            "steady, unhurried camera",
            "natural posture",
            "even, flattering light across the face",
            "lifelike eyes with clear catchlights",
        ]
        low, high = WORD_RANGES[AssetType.CHARACTER][0]
        prompt = _compose(parts, pool, low, high, lead=request.name)

        name = request.name or "This person"
        traits = []
        if look.hair:
            traits.append(f"{look.hair_length + ' ' if look.hair_length else ''}{look.hair} hair")
        if look.skin:
            traits.append(f"{_article(look.skin)} {look.skin} skin tone")
        described = f"{name} is seen in {_article(shot)} {shot}"
        if traits:
            described += f", with {_join(traits)}"
        worn = []
        if look.upper and look.upper == look.lower:
            worn.append(f"{_join(list(look.upper))} from the shoulders to the legs")
        else:
            if look.upper:
                worn.append(f"{_join(list(look.upper))} on the upper body")
            if look.lower:
                worn.append(f"{_join(list(look.lower))} on the legs")
        if worn:
            described += f", wearing {_join(worn)}"
        keep = ["the face and identity"]
        keep += ["the hair colour" + (" and length" if look.hair_length else "")] if look.hair else []
        keep += ["the skin tone"] if look.skin else []
        keep += ["the clothing colours"] if worn else []
        keep += list(request.accessories)
        bible_parts = [
            (0, described),
            (1, f"Keep consistent in every shot: {_join(keep)}"),
            (2, f"The reference is lit by {_light_words(m.lighting)} with {m.lighting.contrast} contrast"),
            (1, "May vary: expression, pose, camera angle, lighting and removable accessories"),
            (0, _quality_sentence(m)),
        ]
        bible_pool = [
            "a sharp, well-lit view of the face makes the best reference",
            "new shots should match the hairline and the outline of the face",
        ]
        blow, bhigh = WORD_RANGES[AssetType.CHARACTER][1]
        bible = _compose(bible_parts, bible_pool, blow, bhigh, lead=request.name, joiner="; ")
        return prompt, bible

    # .. things

    def _thing(self, request: DescribeRequest, m: Measurements, kind: str) -> tuple[str, str]:
        look = m.thing
        assert look is not None
        cls = request.detection_class or ""
        colours = list(look.colours)
        # The user's own colour word ("Red motorcycle") wins over a measured one that would
        # contradict it: they know the thing, the measurement only sees this one photo's light.
        named = named_colour(request.name)
        if named is not None and (not colours or colours[0] != named):
            colours = [named, *[c for c in colours[1:] if c != named]]
        main = colours[0] if colours else ""
        body = f"{main} {kind}".strip()
        subject = f"{request.name}, {_article(body)} {body}" if request.name else f"{_article(body)} {body}"
        details = colours[1:]
        if details:
            subject += f" with {_join(details)} details"
        animal = cls in ANIMAL_CLASSES or kind in ANIMAL_CLASSES
        material = "" if animal else CLASS_MATERIAL.get(cls) or _label_material(kind) or ""
        surface = "coat" if animal else "finish" if request.asset_type == AssetType.VEHICLE else "surface"
        texture = " ".join(p for p in (look.texture or "", material, surface) if p) if look.texture or material else ""
        shine = " with bright specular highlights" if texture and look.texture == "smooth and glossy" else ""
        h, w = request.image.shape[:2]
        profile = ""
        if request.detection_class:
            profile = (
                "wide, low profile" if w / h > 1.8 else "tall, upright profile" if h / w > 1.8 else "compact profile"
            )
        size = {
            "detail close-up": "filling the frame",
            "close-up": "filling most of the frame",
            "wide shot": "small within a wider view",
        }.get(m.framing.shot or "", "")
        noun = kind.split()[-1] if kind else "subject"
        light = _light_words(m.lighting)
        if look.light_side:
            light += f" from {look.light_side}"
        camera = ", ".join(p for p in (m.framing.shot, f"{m.framing.orientation} frame") if p)
        background = _background_words(m.background, look.stands_out)
        parts: list[tuple[int, str]] = [
            (0, subject),
            (1, ", ".join(p for p in (profile, look.position or "", size) if p)),
            (1, texture + shine),
            (1, f"{_lettering(m.text)} on it" if m.text else ""),
            (2, background),
            (2, f"{light}, {m.lighting.contrast} contrast, {m.lighting.saturation} colour saturation"),
            (3, camera),
            (2, f"photorealistic, sharp focus on the {noun}, true-to-reference colours and proportions"),
        ]
        pool = [
            "lifelike anatomy and posture" if animal else "clean edges",
            "natural fur and feather detail" if animal else "realistic materials",
            "accurate scale",
            "nothing added to its surface",
            "no extra objects in frame",
            "lettering kept exactly as it reads" if m.text else "no text or logos added",
            "natural contact shadows",
            "crisp fine detail",
            "correct perspective",
            "even exposure across the whole subject",
            "physically plausible reflections",
            "a clear silhouette",
        ]
        low, high = WORD_RANGES[request.asset_type][0]
        prompt = _compose(parts, pool, low, high, lead=request.name)

        opening = f"{request.name} is {_article(body)} {body}" if request.name else f"{_article(body)} {body}"
        if texture:
            opening += f" with {_article(texture)} {texture}"
        keep = [f"the {main} main colour" if main else "its colours"]
        if details:
            keep.append(f"the {_join(details)} details")
        if profile:
            keep.append(f"its {profile}")
        if m.text:
            keep.append("the lettering " + ", ".join(f'"{t}"' for t in m.text))
        bible_parts = [
            (0, opening),
            (1, f"Keep consistent: {_join(keep)}"),
            (1, "May vary: background, lighting and camera angle"),
            (0, _quality_sentence(m)),
        ]
        bible_pool = [f"seen in the reference {background}", f"under {_light_words(m.lighting)}"]
        blow, bhigh = WORD_RANGES[request.asset_type][1]
        bible = _compose(bible_parts, bible_pool, blow, bhigh, lead=request.name, joiner="; ")
        return prompt, bible

    # .. places

    def _environment(self, request: DescribeRequest, m: Measurements, kind: str) -> tuple[str, str]:
        scene = m.scene
        assert scene is not None
        setting = kind if kind != "location" else ("outdoor scene" if scene.sky else "scene")
        head = f"{request.name}, {_article(setting)} {setting}" if request.name else f"{_article(setting)} {setting}"
        light, guess = _time_of_day(m.lighting)
        layout = " and ".join(p for p in (scene.lines or "", f"{scene.detail} detail") if p)
        parts: list[tuple[int, str]] = [
            (0, f"{head} in {light}"),
            (1, f"{_article(scene.sky)} {scene.sky} fills the top of the frame" if scene.sky else ""),
            (2, f"{scene.foreground} ground across the bottom of the frame" if scene.foreground else ""),
            (2, f"{layout} shape the layout"),
            (2, f"the brightest light sits in {scene.brightest}" if scene.brightest else ""),
            (1, f"colour palette of {_palette_words(m.palette)}"),
            (2, f"{m.lighting.saturation} saturation, {m.lighting.contrast} contrast, {_mood(m.lighting)}"),
            (3, ", ".join(p for p in (scene.shadows or "", scene.highlights or "") if p)),
            (2, f"{_lettering(m.text)} in the scene" if m.text else ""),
            (3, ", ".join(p for p in (m.framing.shot, f"{m.framing.orientation} frame") if p)),
            (2, "keep the layout, light and palette of the reference"),
        ]
        pool = [
            "photorealistic",
            "natural perspective",
            "consistent depth",
            "realistic atmosphere",
            "no people added",
            "signage kept exactly as it reads" if m.text else "no text or signage added",
            "steady camera",
            "crisp detail throughout",
            "believable scale",
            "coherent shadows",
            "natural materials",
            "balanced exposure",
            "subtle haze in the distance",
            "light falling consistently across every surface",
            "a clear sense of place",
            "grounded, lived-in detail",
        ]
        low, high = WORD_RANGES[AssetType.ENVIRONMENT][0]
        prompt = _compose(parts, pool, low, high, lead=request.name)

        name = request.name or _capital(setting)
        keep = [f"the palette ({_palette_facts(m.palette)})", f"{m.lighting.contrast} contrast"]
        if scene.lines:
            keep.append(scene.lines)
        if m.text:
            keep.append("the signage " + ", ".join(f'"{t}"' for t in m.text))
        opening = (
            f"{name}: {_article(setting)} {setting} in {m.lighting.brightness}, {m.lighting.temperature} light; "
            f"the light could be {guess}"
        )
        bible_parts = [
            (0, opening),
            (1, f"Keep consistent: {_join(keep)}"),
            (1, "May vary: camera position, framing, and who or what is in the scene"),
            (0, _quality_sentence(m)),
        ]
        bible_pool = [
            f"the scene has {scene.detail} detail" + (f" under {_article(scene.sky)} {scene.sky}" if scene.sky else ""),
            f"its {m.lighting.saturation} colour saturation sets the mood",
            "any new shot here should match the direction and colour of the light",
            "the ground and the sky should keep their tones from shot to shot",
            "props may move, but the fixed architecture and horizon should not",
        ]
        blow, bhigh = WORD_RANGES[AssetType.ENVIRONMENT][1]
        bible = _compose(bible_parts, bible_pool, blow, bhigh, lead=request.name, joiner="; ")
        return prompt, bible

    def _style(self, request: DescribeRequest, m: Measurements) -> tuple[str, str]:
        scene = m.scene
        assert scene is not None
        light = m.lighting
        if request.name:
            words = request.name.lower().split()
            ending = words[-1] if words else ""
            label = request.name if ending in {"look", "style", "grade", "aesthetic"} else f"{request.name} look"
        else:
            label = "visual style reference"
        key = {"dim": "low-key", "even": "mid-key", "bright": "high-key"}[light.brightness]
        grain = {"clean": "clean, grain-free image", "fine grain": "fine film grain", "heavy grain": "heavy grain"}
        texture = ", ".join(p for p in (grain[scene.grain], "darkened corners" if scene.vignette else "") if p)
        parts: list[tuple[int, str]] = [
            (
                0,
                f"{label}: a {light.saturation}, {light.contrast}-contrast, {key} colour grade "
                f"with a {light.temperature} colour temperature",
            ),
            (1, f"palette of {_palette_words(m.palette)}"),
            (1, ", ".join(p for p in (scene.shadows or "", scene.highlights or "") if p)),
            (2, texture),
            (2, f"{scene.detail} detail" + (f", {scene.lines}" if scene.lines else "")),
            (2, _mood(light)),
            (2, f"light strongest toward {scene.brightest}" if scene.brightest else ""),
            (1, "apply this grade and mood to the whole frame"),
        ]
        pool = [
            "consistent exposure from shot to shot",
            "matching black levels",
            "matching highlight roll-off",
            "the same colour temperature in every shot",
            "photographic realism",
            "no added filters beyond this grade",
            "skin tones kept natural within the grade",
            "stable white balance",
            "the same contrast curve throughout",
            "cohesive colour across subjects and settings",
            "subtle rather than exaggerated",
            "film-like tonal transitions",
            "restrained use of accent colours",
            "even, predictable colour from shot to shot",
        ]
        low, high = WORD_RANGES[AssetType.STYLE][0]
        prompt = _compose(parts, pool, low, high, lead=request.name)
        subject = request.name or "This style"
        bible_parts = [
            (
                0,
                f"{subject}: a {light.saturation}, {light.contrast}-contrast, {key} look "
                f"with {light.temperature} colour",
            ),
            (
                1,
                f"Keep consistent in every shot: the palette ({_palette_facts(m.palette)}), "
                f"{light.temperature} colour temperature and {light.brightness} exposure",
            ),
            (1, "May vary: subjects, settings and composition"),
            (0, _quality_sentence(m)),
        ]
        bible_pool = [
            f"the image is {scene.grain.replace('clean', 'clean and grain-free')}"
            + (", with darkened corners" if scene.vignette else ""),
            "match black levels and highlights to the reference",
            "keep skin tones natural within the grade",
            "accent colours should stay as rare as they are here",
        ]
        blow, bhigh = WORD_RANGES[AssetType.STYLE][1]
        return prompt, _compose(bible_parts, bible_pool, blow, bhigh, lead=request.name, joiner="; ")

    def _suggested_name(self, request: DescribeRequest, m: Measurements, kind: str) -> str:
        if request.name:
            return _clip_name(request.name)
        if request.asset_type == AssetType.CHARACTER:
            # Never a person named after the colours of their face: clothing, else hair, else unnamed.
            look = m.person
            if look is not None and look.upper:
                name = f"person in {look.upper[0]}"
            elif look is not None and look.hair:
                name = f"person with {look.hair} hair"
            else:
                name = "unnamed person"
        elif request.asset_type == AssetType.STYLE:
            name = f"{m.lighting.temperature} {m.palette.swatches[0].name} style"
        elif request.asset_type == AssetType.ENVIRONMENT:
            name = f"{m.palette.swatches[0].name} {kind}"
        else:
            colour = m.thing.colours[0] if m.thing is not None and m.thing.colours else m.palette.subject
            name = f"{colour} {kind}"
        return _clip_name(_capital(name)) or _capital(TYPE_NOUN[request.asset_type])


def _label_material(kind: str) -> str | None:
    lowered = kind.lower()
    for words, material in MATERIAL_HINTS:
        if any(word in lowered.split() or word == lowered for word in words):
            return material
    return None


def _quality_sentence(m: Measurements) -> str:
    reasons = f" ({_join(list(m.quality.reasons))})" if m.quality.reasons else ""
    return f"Reference quality {m.quality.score:.1f}/10{reasons}"


BASIC_COLOURS = (
    "red", "orange", "yellow", "green", "blue", "purple", "violet", "pink", "brown", "black", "white",
    "grey", "gray", "silver", "gold", "beige", "navy", "teal", "maroon", "cream",
)  # fmt: skip


def named_colour(name: str) -> str | None:
    """The colour a user's name for an asset states ("Red motorcycle" → "red"), if any."""
    words = name.lower()
    for colour in sorted({*_TABLE_NAMES, *BASIC_COLOURS}, key=len, reverse=True):
        if re.search(rf"(?<![a-z]){re.escape(colour)}(?![a-z])", words):
            return "grey" if colour == "gray" else colour
    return None
