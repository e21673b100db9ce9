"""How usable the offline describer's prompts are, measured on ground-truth boxes of a COCO file.

Each ground-truth box of a reasonable size (the pipeline's own extraction limits: at least
`rules.EXTRACT_MIN_SIDE_PX` on its shorter side and `rules.EXTRACT_MIN_AREA_FRACTION` of the photo;
boxes marked ``iscrowd`` or ``ignore`` are left out) is cropped as the pipeline crops a detection
(`rules.OBJECT_PADDING` on each side) and described with the type the pipeline would give it (a
person is a CHARACTER, else `rules.extracted_type`) and its true class as ``detection_class``.
For a person, the wearable or held ground-truth boxes inside it are passed as accessories, as the
pipeline may pass detections.

Reported: the share of prompts that name the true class (or a synonym or refinement of it), the
share with filler (a percentage, a probability, a word or phrase repeated back to back, or a hedge
such as "possibly" or "reads as"), the share of production-bible texts that print a percentage,
word counts per type against the design's ranges, the number of crops, the seconds taken and a few
example prompts.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from vidpipe.bench.detect import load_ground_truth
from vidpipe.describe.describer import Describer, DescribeRequest
from vidpipe.describe.describers.offline import REFINEMENTS, WORD_RANGES, accessories_within
from vidpipe.domain.enums import AssetType
from vidpipe.errors import VidpipeError
from vidpipe.imaging.loading import load_image
from vidpipe.inference.face_analysis import face_crop
from vidpipe.pipeline import rules

EXAMPLES = 6
REPORT_KEYS = (
    "crops",
    "class_named_share",
    "filler_share",
    "bible_percentage_share",
    "filler_kinds",
    "word_counts",
    "seconds",
    "seconds_per_crop",
    "examples",
    "unnamed_examples",
    "filler_examples",
)

# Other words a prompt may use for a COCO class (besides the class itself and its refinements).
CLASS_SYNONYMS: dict[str, tuple[str, ...]] = {
    "person": ("man", "woman", "boy", "girl", "child", "people", "figure", "pedestrian", "rider", "player"),
    "airplane": ("plane", "aircraft", "airliner", "jet", "aeroplane", "warplane"),
    "motorcycle": ("motorbike",),
    "bicycle": ("bike", "cycle"),
    "tv": ("television", "monitor", "screen"),
    "couch": ("sofa",),
    "dining table": ("table",),
    "potted plant": ("plant", "houseplant", "pot plant"),
    "cell phone": ("phone", "smartphone", "mobile phone"),
    "sheep": ("lamb", "ram", "ewe"),
    "cow": ("cattle", "calf", "ox", "bull"),
    "horse": ("pony", "foal"),
    "bird": ("gull", "duck", "goose", "parrot"),
    "boat": ("ship", "vessel"),
    "bottle": ("flask",),
    "sports ball": ("ball",),
    "car": ("automobile",),
}

_PERCENT = re.compile(r"%|\bper ?cent\b", re.IGNORECASE)
# 0.61, .61, "probability", "confidence", p=: but not a score such as 9.8/10.
_PROBABILITY = re.compile(r"(?<![\w.])0?\.\d+|\bprobabilit(?:y|ies)\b|\bconfidence\b|\bp\s*=", re.IGNORECASE)
_HEDGES = re.compile(
    r"\b(?:possibly|perhaps|maybe|might be|likely|could be|reads? as|read as|appears to be|seems to be|"
    r"what looks like|or so)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[\w'-]+")


def words_of(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def repeated_run(text: str) -> str | None:
    """The first word or two-word phrase repeated back to back ("look look", "dark brown dark brown")."""
    words = words_of(text)
    for size in (1, 2, 3):
        for i in range(len(words) - 2 * size + 1):
            if words[i : i + size] == words[i + size : i + 2 * size]:
                return " ".join(words[i : i + 2 * size])
    return None


def filler_in(text: str) -> list[str]:
    """What counts as filler in a prompt: each kind found, with the offending text."""
    found = []
    if match := _PERCENT.search(text):
        found.append(f"percentage: {match.group(0)!r}")
    if match := _PROBABILITY.search(text):
        found.append(f"probability: {match.group(0)!r}")
    if run := repeated_run(text):
        found.append(f"repeated: {run!r}")
    if match := _HEDGES.search(text):
        found.append(f"hedge: {match.group(0)!r}")
    return found


def class_terms(class_name: str) -> set[str]:
    """The class, its synonyms and its refinements, lower case."""
    terms = {class_name, class_name.split()[-1], *CLASS_SYNONYMS.get(class_name, ()), *REFINEMENTS.get(class_name, ())}
    return {t.lower() for t in terms}


def names_class(text: str, class_name: str) -> bool:
    """Whether ``text`` names the class, a synonym or a refinement of it (whole words, plurals allowed)."""
    lowered = text.lower()
    return any(re.search(rf"(?<!\w){re.escape(term)}(?:e?s)?(?!\w)", lowered) for term in class_terms(class_name))


def asset_type_of(class_name: str) -> AssetType:
    """The type the pipeline gives a detection of this class when it extracts it."""
    return AssetType.CHARACTER if class_name == "person" else rules.extracted_type(class_name)


def _box_ok(box: Sequence[float], width: int, height: int) -> bool:
    _, _, w, h = box
    return min(w, h) >= rules.EXTRACT_MIN_SIDE_PX and w * h >= rules.EXTRACT_MIN_AREA_FRACTION * width * height


def _spread(values: list[int]) -> dict[str, float]:
    return {"min": min(values), "median": float(statistics.median(values)), "max": max(values)}


def run_describe_offline_bench(
    images_dir: Path,
    coco_jsons: Sequence[Path],
    describer: Describer,
    *,
    max_crops: int | None = None,
    examples: int = EXAMPLES,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Describe every usable ground-truth box of ``coco_jsons`` (file names relative to ``images_dir``)."""
    jobs: list[tuple[Path, list[float], str, list[tuple[str, list[float]]]]] = []
    for coco_json in coco_jsons:
        truth = load_ground_truth(coco_json)
        names = {int(c["id"]): str(c["name"]) for c in truth["categories"]}
        by_image: dict[int, list[dict[str, Any]]] = {}
        for ann in truth["annotations"]:
            by_image.setdefault(int(ann["image_id"]), []).append(ann)
        for entry in truth["images"]:
            anns = by_image.get(int(entry["id"]), [])
            everything = [(names[int(a["category_id"])], [float(v) for v in a["bbox"]]) for a in anns]
            for ann in anns:
                if ann.get("iscrowd") or ann.get("ignore"):
                    continue
                box = [float(v) for v in ann["bbox"]]
                if _box_ok(box, int(entry["width"]), int(entry["height"])):
                    jobs.append((images_dir / str(entry["file_name"]), box, names[int(ann["category_id"])], everything))
    if max_crops is not None:
        jobs = jobs[:max_crops]
    if not jobs:
        raise VidpipeError("no ground-truth box of a usable size in the COCO file(s)")

    prompts: list[tuple[str, AssetType, str]] = []
    bible_words: dict[str, list[int]] = {}
    bible_percentages = 0
    loaded: dict[Path, Any] = {}
    start = time.perf_counter()
    for done, (path, (x, y, w, h), class_name, everything) in enumerate(jobs, 1):
        if path not in loaded:
            loaded.clear()  # one photo at a time: boxes come grouped by photo
            loaded[path] = load_image(path)
        image = loaded[path]
        crop, _ = face_crop(image, (x, y, x + w, y + h), padding=rules.OBJECT_PADDING)
        asset_type = asset_type_of(class_name)
        accessories: tuple[str, ...] = ()
        if asset_type is AssetType.CHARACTER:
            others = [(n, (bx, by, bx + bw, by + bh)) for n, (bx, by, bw, bh) in everything if n != "person"]
            accessories = accessories_within((x, y, x + w, y + h), others)
        request = DescribeRequest(
            image=crop.copy(),
            asset_type=asset_type,
            detection_class=class_name,
            source_size=(image.shape[1], image.shape[0]),
            accessories=accessories,
        )
        description = describer.describe(request)
        prompts.append((class_name, asset_type, description.reverse_prompt))
        bible_words.setdefault(asset_type.value, []).append(len(words_of(description.visual_description)))
        bible_percentages += bool(_PERCENT.search(description.visual_description))
        if progress is not None:
            progress(done, len(jobs))
    seconds = time.perf_counter() - start

    named = [names_class(prompt, cls) for cls, _, prompt in prompts]
    filler = [filler_in(prompt) for _, _, prompt in prompts]
    per_type: dict[str, dict[str, Any]] = {}
    for asset_type in sorted({t for _, t, _ in prompts}, key=lambda t: t.value):
        counts = [len(words_of(p)) for _, t, p in prompts if t is asset_type]
        low, high = WORD_RANGES[asset_type][0]
        per_type[asset_type.value] = {
            "crops": len(counts),
            "prompt_words": _spread(counts),
            "prompt_range": [low, high],
            "prompt_in_range_share": round(sum(low <= c <= high for c in counts) / len(counts), 3),
            "bible_words": _spread(bible_words[asset_type.value]),
            "bible_range": list(WORD_RANGES[asset_type][1]),
        }
    # Examples: the first prompt of each class, in order of first appearance.
    shown: dict[str, str] = {}
    for cls, _, prompt in prompts:
        if cls not in shown and len(shown) < examples:
            shown[cls] = prompt
    missed = [f"{cls}: {prompt}" for (cls, _, prompt), ok in zip(prompts, named, strict=True) if not ok][:3]
    filler_examples = [f"{'; '.join(kinds)} in: {prompts[i][2]}" for i, kinds in enumerate(filler) if kinds][:3]
    return {
        "crops": len(prompts),
        "class_named_share": round(sum(named) / len(prompts), 3),
        "filler_share": round(sum(bool(f) for f in filler) / len(prompts), 3),
        "bible_percentage_share": round(bible_percentages / len(prompts), 3),
        "filler_kinds": {
            kind: sum(any(f.startswith(kind) for f in found) for found in filler)
            for kind in ("percentage", "probability", "repeated", "hedge")
        },
        "word_counts": per_type,
        "seconds": round(seconds, 2),
        "seconds_per_crop": round(seconds / len(prompts), 3),
        "examples": [f"{cls}: {prompt}" for cls, prompt in shown.items()],
        "unnamed_examples": missed,
        "filler_examples": filler_examples,
    }
