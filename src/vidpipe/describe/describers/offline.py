"""The offline describer: text written from what local models measure in the crop, no network.

It measures, and then writes only about what it measured:

* the palette: k-means in CIE Lab on a downsampled crop, each cluster named after the nearest of
  about thirty reference colours (ΔE76), with its share of the crop; the colour at the centre (the
  subject, usually) and along the border (the background) are named separately;
* the light: brightness (dim / even / bright), contrast (flat / moderate / high), colour
  temperature (warm / neutral / cool, from the b* of near-neutral highlights) and saturation;
* the framing: shot size from how much of the source photo the crop covers, or for faces from how
  tightly the crop holds the eyes; orientation; for faces, the head's turn and tilt from landmarks;
* what it is: ImageNet labels above a threshold (first name of each label line);
* lettering: OCR strings read with confidence (when rapidocr_onnxruntime is installed);
* the reference quality from `assess_crop`.

Material words come only from the labels (a cup is likely ceramic); the time of day of an
environment is a guess from brightness and colour temperature and is worded as one.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import cv2
import numpy as np

from vidpipe.describe.describer import Describer, DescribeRequest, Description
from vidpipe.domain.enums import AssetType
from vidpipe.imaging.quality import QualityReport, assess_crop
from vidpipe.inference.classifier import ImageNetClassifier
from vidpipe.settings import Settings, get_settings

logger = logging.getLogger(__name__)

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
PALETTE_MIN_SHARE = 0.05  # colours covering less of the crop are not named
KMEANS_SEED = 20240601
KMEANS_ITERATIONS = 25
KMEANS_TOLERANCE = 0.05  # stop once no centre moves more than this (Lab units)

# Lighting thresholds on CIE L* (0..100) and the b* axis of near-neutral highlights.
DIM_L, BRIGHT_L = 35.0, 68.0
FLAT_SPREAD, HIGH_SPREAD = 30.0, 65.0  # L* between the 5th and 95th percentile
WARM_B, COOL_B = 6.0, -4.0
MUTED_CHROMA, VIVID_CHROMA = 12.0, 35.0
FLAT_SHARPNESS = 0.02  # below this the crop has no structure for the classifier to name

OCR_MIN_CONFIDENCE = 0.5
OCR_MAX_STRINGS = 5

# A guessed material per label word; only used when the label itself says what the thing is.
MATERIAL_HINTS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("wooden", "wood", "plank", "barrel"), "wood"),
    (("leather", "saddle", "wallet"), "leather"),
    (("bottle", "goblet", "beer glass", "wine", "glass", "jar", "lens"), "glass"),
    (("cup", "mug", "teapot", "vase", "pitcher", "plate", "bowl", "espresso"), "ceramic"),
    (("jersey", "sweatshirt", "cardigan", "sweater", "suit", "t-shirt", "gown", "coat", "cloak"), "fabric"),
    (("wool", "knit"), "knit wool"),
    (("basket", "wicker"), "woven wicker"),
    (("car", "motor", "moped", "bicycle", "bike", "truck", "cab", "jeep", "tank", "locomotive"), "metal"),
    (("plastic",), "plastic"),
    (("stone", "brick", "wall", "castle"), "stone"),
    (("envelope", "book", "carton", "paper", "menu"), "paper"),
)

TYPE_NOUN: dict[AssetType, str] = {
    AssetType.CHARACTER: "person",
    AssetType.OBJECT: "object",
    AssetType.PROP: "prop",
    AssetType.ENVIRONMENT: "location",
    AssetType.VEHICLE: "vehicle",
    AssetType.STYLE: "style",
}


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
class Measurements:
    """Everything the offline describer measured in one crop."""

    palette: Palette
    lighting: Lighting
    framing: Framing
    labels: tuple[tuple[str, float], ...]  # (first name of the ImageNet label, probability), best first
    text: tuple[str, ...]  # OCR strings, reading order
    quality: QualityReport
    parts: tuple[str, ...]  # which models ran, for the description's ``model`` string


# ---------------------------------------------------------------------------------------------- colours


def _to_lab(rgb: np.ndarray[Any, Any]) -> np.ndarray[Any, np.dtype[np.float32]]:
    """CIE Lab (L 0..100, a/b about -128..127) of uint8 RGB pixels of any leading shape."""
    flat = np.ascontiguousarray(rgb, dtype=np.float32).reshape(-1, 1, 3) / 255.0
    lab = np.asarray(cv2.cvtColor(flat, cv2.COLOR_RGB2Lab), np.float32)
    return lab.reshape(*rgb.shape[:-1], 3)


_TABLE_NAMES = tuple(name for name, _ in COLOUR_TABLE)
_NAME_WEIGHTS = np.array([0.5, 1.0, 1.0], np.float32)
_TABLE_LAB = _to_lab(np.array([rgb for _, rgb in COLOUR_TABLE], np.uint8))


def colour_name(lab: np.ndarray[Any, Any]) -> str:
    """The reference colour nearest to one Lab value: ΔE76 with lightness at half weight, as hue and
    chroma decide a colour's name more than lightness does (a dark blue is still blue)."""
    diff = (_TABLE_LAB - np.asarray(lab, np.float32)[None, :]) * _NAME_WEIGHTS
    distances = np.linalg.norm(diff, axis=1)
    return _TABLE_NAMES[int(np.argmin(distances))]


def _kmeans(points: np.ndarray[Any, Any], k: int) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
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

    def assign(centres: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        squared = np.sum((points[:, None, :] - centres[None, :, :]) ** 2, axis=2)
        nearest: np.ndarray[Any, Any] = np.argmin(squared, axis=1)
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


def _shrink(image: np.ndarray[Any, Any], side: int) -> np.ndarray[Any, Any]:
    """The image with its longer side at most ``side`` pixels (area-averaged)."""
    h, w = image.shape[:2]
    scale = side / max(h, w)
    if scale >= 1:
        return image
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(np.ascontiguousarray(image), size, interpolation=cv2.INTER_AREA)


def measure_palette(image: np.ndarray[Any, Any]) -> Palette:
    """Dominant named colours of a crop, plus the colours of its centre and its border."""
    lab = _to_lab(_shrink(image, PALETTE_SIDE)).astype(np.float64)
    sh, sw = lab.shape[:2]
    centres, labels = _kmeans(lab.reshape(-1, 3), PALETTE_K)
    # Index of each pixel's colour name in COLOUR_TABLE; clusters with the same name merge.
    name_of_cluster = np.array([_TABLE_NAMES.index(colour_name(c)) for c in centres])
    named = name_of_cluster[labels].reshape(sh, sw)

    def ranked(values: np.ndarray[Any, Any]) -> list[tuple[str, float]]:
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


# ---------------------------------------------------------------------------------------------- light


def measure_lighting(image: np.ndarray[Any, Any], quality: QualityReport) -> Lighting:
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


# ---------------------------------------------------------------------------------------------- framing


def face_pose(landmarks: np.ndarray[Any, Any]) -> tuple[str, ...]:
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
        words = ["frontal"]
    elif turn < 0.35:
        words = [f"three-quarter view turned toward {side}"]
    else:
        words = [f"profile facing {side}"]
    roll = float(np.degrees(np.arctan2(eye_vec[1], eye_vec[0])))
    if abs(roll) >= 8.0:
        words.append(f"head tilted about {round(abs(roll))}° toward {'frame right' if roll > 0 else 'frame left'}")
    return tuple(words)


def measure_framing(request: DescribeRequest) -> Framing:
    h, w = request.image.shape[:2]
    aspect = w / h
    orientation = "landscape" if aspect > 1.15 else "portrait" if aspect < 0.87 else "square"
    pose: tuple[str, ...] = ()
    shot: str | None
    landmarks = request.landmarks
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


def _title(text: str) -> str:
    return " ".join(word[:1].upper() + word[1:] for word in text.split())


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


def _material(labels: tuple[tuple[str, float], ...]) -> str | None:
    for label, _ in labels:
        lowered = label.lower()
        for words, material in MATERIAL_HINTS:
            if any(word in lowered.split() or word == lowered for word in words):
                return material
    return None


def _palette_phrase(palette: Palette) -> str:
    names = [s.name for s in palette.swatches[:3]]
    if palette.swatches[0].share >= 0.5 and len(names) > 1:
        return f"mostly {names[0]} with {_join(names[1:])} accents"
    if len(names) == 1:
        return f"almost entirely {names[0]}"
    return f"{_join(names)} tones"


def _palette_shares(palette: Palette) -> str:
    return ", ".join(f"{s.name} {round(s.share * 100)}%" for s in palette.swatches[:4])


def _light_phrase(light: Lighting) -> str:
    brightness = {"dim": "dim low-key", "even": "even", "bright": "bright high-key"}[light.brightness]
    return f"{brightness} lighting, {light.contrast} contrast, {light.temperature} colour temperature"


def _background_phrase(palette: Palette) -> str:
    if palette.background_plain:
        return f"plain {palette.background} background"
    return f"background mostly {palette.background}, not plain"


def _lettering(text: tuple[str, ...]) -> str | None:
    if not text:
        return None
    return "visible lettering " + ", ".join(f'"{t}"' for t in text)


def _time_of_day(light: Lighting) -> str:
    """A guess, worded as one, from brightness and colour temperature only."""
    if light.brightness == "dim":
        return {
            "warm": "dim warm light that could be evening or lamplight",
            "cool": "dim cool light that could be night or blue hour",
            "neutral": "dim light that could be dusk or an unlit interior",
        }[light.temperature]
    if light.brightness == "bright":
        return {
            "warm": "bright warm light that could be late-afternoon sun",
            "cool": "bright cool light that could be midday or overcast daylight",
            "neutral": "bright neutral light that could be daylight",
        }[light.temperature]
    return f"even {light.temperature} light with no clear time of day"


def _mood(light: Lighting) -> str:
    key = {"dim": "low-key, moody", "even": "evenly lit", "bright": "high-key, airy"}[light.brightness]
    return f"{key} {light.temperature} look"


# ---------------------------------------------------------------------------------------------- describer


class OfflineDescriber(Describer):
    """Writes descriptions from local measurements: colours, light, framing, labels, lettering, quality.

    ``classifier`` adds ImageNet labels (none are used without one; `from_settings` builds it when
    its weights are present). ``ocr`` adds lettering read by rapidocr_onnxruntime where that package
    is installed; without it the describer runs silently without lettering. The ``model`` string of
    each description lists what ran for it, e.g. ``offline(mobilenet_v2_imagenet+rapidocr)``.
    """

    name: ClassVar[str] = "offline"
    prompt_version: ClassVar[str] = "offline-1"

    def __init__(
        self,
        classifier: ImageNetClassifier | None = None,
        *,
        ocr: bool = True,
        label_threshold: float | None = None,
        max_labels: int = 3,
    ) -> None:
        self.classifier = classifier
        self.label_threshold = label_threshold
        self.max_labels = max_labels
        self._ocr_wanted = ocr and importlib.util.find_spec("rapidocr_onnxruntime") is not None
        self._ocr_engine: Any = None
        self._ocr_failed = False
        self._ocr_lock = threading.Lock()
        self.ocr_seconds = 0.0  # time spent inside the OCR models, for benchmarks

    @classmethod
    def from_settings(cls, settings: Settings | None = None, *, ocr: bool = True) -> OfflineDescriber:
        """A describer with the ImageNet classifier when its weights are in the model folder."""
        classifier = ImageNetClassifier.if_present(settings or get_settings())
        if classifier is None:
            logger.warning("offline describer: ImageNet classifier weights not found, describing without labels")
        return cls(classifier, ocr=ocr)

    @property
    def ocr_available(self) -> bool:
        return self._ocr_wanted and not self._ocr_failed

    # -- measuring

    def _labels(self, image: np.ndarray[Any, Any], asset_type: AssetType) -> tuple[tuple[str, float], ...]:
        assert self.classifier is not None
        threshold = self.label_threshold if self.label_threshold is not None else self.classifier.default_confidence
        if asset_type == AssetType.CHARACTER:
            threshold = max(threshold, 0.3)  # on people ImageNet can only name clothing; be stricter
        top = self.classifier.classify(image, top_k=self.max_labels, min_score=threshold)
        seen: dict[str, float] = {}
        for label, prob in top:
            seen.setdefault(_first_name(label), round(prob, 3))
        return tuple(seen.items())

    def _ocr(self, image: np.ndarray[Any, Any]) -> tuple[str, ...] | None:
        """Lettering in reading order, or None where OCR could not run."""
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
            if float(score) <= OCR_MIN_CONFIDENCE or len(text) < 2 or not any(ch.isalnum() for ch in text):
                continue
            corners = np.asarray(box, np.float64)
            found.append((float(corners[:, 1].min()), float(corners[:, 0].min()), text))
        found.sort()
        unique: list[str] = []
        for _, _, text in found:
            if text not in unique:
                unique.append(text)
        return tuple(unique[:OCR_MAX_STRINGS])

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
        return Measurements(
            palette=measure_palette(image),
            lighting=measure_lighting(image, quality),
            framing=measure_framing(request),
            labels=labels,
            text=text,
            quality=quality,
            parts=tuple(parts),
        )

    # -- writing

    def describe(self, request: DescribeRequest) -> Description:
        m = self.measure(request)
        kind = self._kind(request, m)
        subject = request.name or kind
        if request.asset_type == AssetType.STYLE:
            prompt, bible = self._style(request, m)
        elif request.asset_type == AssetType.ENVIRONMENT:
            prompt, bible = self._environment(request, m, subject, kind)
        elif request.asset_type == AssetType.CHARACTER:
            prompt, bible = self._character(request, m, subject)
        else:
            prompt, bible = self._thing(request, m, subject, kind)
        quality = f"Reference quality {m.quality.score:.1f}/10"
        quality += f" ({_join(list(m.quality.reasons))})." if m.quality.reasons else "."
        score = min(10.0, max(1.0, round(m.quality.score, 1)))
        return Description(
            reverse_prompt=prompt,
            visual_description=f"{bible} {quality}",
            quality_score=score,
            suggested_name=self._suggested_name(request, m, kind),
            provider=self.name,
            model=f"offline({'+'.join(m.parts) or 'pixels-only'})",
            prompt_version=self.prompt_version,
        )

    def _kind(self, request: DescribeRequest, m: Measurements) -> str:
        """What the asset is, from the labels, else the detector's class, else its type."""
        if request.asset_type == AssetType.CHARACTER:
            return "person"  # whether the view is a face or a whole body, the asset is a person
        if request.asset_type == AssetType.STYLE:
            return "visual style"
        if request.detection_class:
            # The detector looked at the object itself; ImageNet labels a whole crop, and the crop
            # of a table holding a cup reads "espresso". A label wins only where it refines the class.
            if m.labels and refines(m.labels[0][0], request.detection_class):
                return m.labels[0][0]
            return request.detection_class
        if m.labels:
            return m.labels[0][0]
        return TYPE_NOUN[request.asset_type]

    def _framing_phrase(self, m: Measurements) -> str:
        shot = m.framing.shot
        return f"{shot}, {m.framing.orientation} frame" if shot else f"{m.framing.orientation} frame"

    def _thing(self, request: DescribeRequest, m: Measurements, subject: str, kind: str) -> tuple[str, str]:
        """OBJECT, PROP and VEHICLE."""
        noun = {AssetType.VEHICLE: "vehicle", AssetType.PROP: "prop"}.get(request.asset_type, "object")
        what = f"{_article(kind)} {kind}"
        if kind != noun:
            what += f" ({noun})" if request.asset_type != AssetType.OBJECT else ""
        head = what if subject == kind else f"{subject}, {what}"
        others = [name for name, _ in m.labels if name != kind]
        material = _material(m.labels)
        fragments = [
            head,
            f"possibly also read as {_join(others)}" if others else "",
            f"colour palette {_palette_phrase(m.palette)}",
            f"{m.palette.subject} at the centre of the frame",
            f"likely {material}" if material else "",
            _lettering(m.text) or "",
            _background_phrase(m.palette),
            _light_phrase(m.lighting),
            f"{m.lighting.saturation} saturation",
            self._framing_phrase(m),
            "keep the shape, proportions and colours of the reference",
        ]
        prompt = ", ".join(f for f in fragments if f) + "."
        shown = f" shown in {_article(m.framing.shot)} {m.framing.shot}" if m.framing.shot else ""
        opening = (
            f"{_capital(_article(kind))} {kind}{shown}"
            if subject == kind
            else f"{subject} is {_article(kind)} {kind}{shown}"
        )
        detected = (
            f" The detector saw it as {_article(request.detection_class)} {request.detection_class}."
            if request.detection_class and request.detection_class.lower() != kind.lower()
            else ""
        )
        keep = [f"the palette ({_palette_shares(m.palette)})"]
        if m.text:
            keep.append("the lettering " + ", ".join(f'"{t}"' for t in m.text))
        if material:
            keep.append(f"its {material} look")
        bible = (
            f"{opening}, {m.palette.subject} at the centre of the frame.{detected} Keep consistent: {_join(keep)}. "
            f"May vary: background, lighting and camera angle."
        )
        return prompt, bible

    def _character(self, request: DescribeRequest, m: Measurements, subject: str) -> tuple[str, str]:
        shot = m.framing.shot
        who = subject if subject != "person" else "a person"
        view = f"{shot} portrait" if request.is_face and shot else (shot or "")
        clothing = [name for name, _ in m.labels]
        fragments = [
            who,
            view,
            _join(list(m.framing.pose)),
            f"wearing or holding what reads as {_join(clothing)}" if clothing else "",
            f"colours in frame {_palette_phrase(m.palette)}",
            _lettering(m.text) or "",
            _background_phrase(m.palette),
            _light_phrase(m.lighting),
            f"{m.framing.orientation} frame",
            "same face and identity in every shot",
        ]
        prompt = ", ".join(f for f in fragments if f) + "."
        pose = f", {_join(list(m.framing.pose))}" if m.framing.pose else ""
        framed = f"{_article(shot)} {shot} reference" if shot else "a reference"
        keep = ["facial features and identity", f"the colours seen in the reference ({_palette_shares(m.palette)})"]
        if clothing:
            keep.append(f"what reads as {_join(clothing)}")
        bible = (
            f"{_capital(subject)}: {framed}{pose}, in {m.lighting.brightness}, "
            f"{m.lighting.temperature} light. Keep consistent: {_join(keep)}. "
            f"May vary: expression, pose, camera angle and lighting."
        )
        return prompt, bible

    def _environment(self, request: DescribeRequest, m: Measurements, subject: str, kind: str) -> tuple[str, str]:
        setting = kind if kind != "location" else ""
        if request.name:
            head = f"{request.name}, {_article(setting)} {setting} setting" if setting else request.name
        else:
            head = f"{setting} setting" if setting else "location"
        fragments = [
            head,
            _time_of_day(m.lighting),
            f"colour palette {_palette_phrase(m.palette)}",
            f"{m.lighting.saturation} saturation, {m.lighting.contrast} contrast",
            _lettering(m.text) or "",
            self._framing_phrase(m),
            "keep the layout and palette of the reference",
        ]
        prompt = ", ".join(f for f in fragments if f) + "."
        keep = [f"the palette ({_palette_shares(m.palette)})", f"{m.lighting.contrast} contrast"]
        if m.text:
            keep.append("the signage " + ", ".join(f'"{t}"' for t in m.text))
        where = f" reads as {_article(kind)} {kind}," if setting and subject.lower() != kind.lower() else ""
        bible = (
            f"{_capital(subject)}{where} lit by {_time_of_day(m.lighting)}. "
            f"Keep consistent: {_join(keep)}. May vary: camera position, framing, and who or what is in the scene."
        )
        return prompt, bible

    def _style(self, request: DescribeRequest, m: Measurements) -> tuple[str, str]:
        label = f"{request.name} look" if request.name else "visual style reference"
        fragments = [
            label,
            f"palette {_palette_shares(m.palette)}",
            f"{m.lighting.saturation} saturation",
            f"{m.lighting.contrast} contrast",
            _mood(m.lighting),
            f"{m.lighting.temperature} colour temperature",
            "apply this grade and mood to the whole frame",
        ]
        prompt = ", ".join(f for f in fragments if f) + "."
        subject = request.name or "This style"
        bible = (
            f"{subject}: a {m.lighting.saturation}, {m.lighting.contrast}-contrast, {_mood(m.lighting)}. "
            f"Keep consistent in every shot: the palette ({_palette_shares(m.palette)}), "
            f"{m.lighting.temperature} colour temperature and {m.lighting.brightness} exposure. "
            f"May vary: subjects, settings and composition."
        )
        return prompt, bible

    def _suggested_name(self, request: DescribeRequest, m: Measurements, kind: str) -> str:
        if request.name:
            return _clip_name(request.name)
        colour = m.palette.subject
        if request.asset_type == AssetType.CHARACTER:
            # Never a person named after the colours of their face; clothing labels where there are some.
            name = f"{kind} in {m.labels[0][0]}" if m.labels else f"unnamed {kind}"
        elif request.asset_type == AssetType.STYLE:
            name = f"{m.lighting.temperature} {m.palette.swatches[0].name} style"
        elif request.asset_type == AssetType.ENVIRONMENT and kind == "location":
            name = f"{m.lighting.brightness} {m.palette.swatches[0].name} location"
        else:
            name = f"{colour} {kind}"
        return _clip_name(_title(name)) or _title(TYPE_NOUN[request.asset_type])
