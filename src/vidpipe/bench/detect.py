"""Object detection measured against a COCO ground-truth file: mAP and time per image."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from vidpipe.domain.detections import Detections
from vidpipe.errors import VidpipeError
from vidpipe.evaluation.coco_map import detections_to_coco, evaluate_coco
from vidpipe.imaging.loading import load_image
from vidpipe.inference.object_detector import ObjectDetector

# mAP is computed over the whole precision/recall curve, so candidates are kept down to this
# score (the COCO convention); the product's own threshold only applies to what users see.
MAP_CONFIDENCE = 0.001


def load_ground_truth(coco_json: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(coco_json.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise VidpipeError(f"cannot read COCO ground truth {str(coco_json)!r}: {exc}") from exc
    for key in ("images", "annotations", "categories"):
        if key not in data:
            raise VidpipeError(f"COCO ground truth {str(coco_json)!r} has no {key!r} list")
    return data


def category_map(ground_truth: dict[str, Any], class_names: tuple[str, ...]) -> dict[int, int]:
    """Detector class index → ground-truth category id, matched by name."""
    by_name = {c["name"]: int(c["id"]) for c in ground_truth["categories"]}
    return {i: by_name[name] for i, name in enumerate(class_names) if name in by_name}


def to_coco_results(image_id: int, found: Detections, categories: dict[int, int]) -> list[dict[str, Any]]:
    keep = np.asarray([int(c) in categories for c in found.class_id], dtype=bool)
    found = found[keep] if len(found) else found
    ids = np.asarray([categories[int(c)] for c in found.class_id], np.int64)
    return detections_to_coco(image_id, found.xyxy, found.confidence, ids)


def run_detect_bench(
    images_dir: Path,
    coco_json: Path,
    detector: ObjectDetector,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    ground_truth = load_ground_truth(coco_json)
    categories = category_map(ground_truth, detector.class_names)
    detector.confidence = MAP_CONFIDENCE
    results: list[dict[str, Any]] = []
    times: list[float] = []
    images = ground_truth["images"]
    for n, entry in enumerate(images, 1):
        image = load_image(images_dir / entry["file_name"])
        if n == 1:
            detector.detect(image)  # warm-up: session creation is not per-image time
        start = time.perf_counter()
        found = detector.detect(image)
        times.append(time.perf_counter() - start)
        results.extend(to_coco_results(int(entry["id"]), found, categories))
        if progress:
            progress(n, len(images))
    scores = evaluate_coco(ground_truth, results)
    return {
        "model": detector.name,
        "images": len(images),
        "map50": round(scores.ap50, 4),
        "map50_95": round(scores.ap, 4),
        "ms_per_image_median": round(1000 * statistics.median(times), 1),
        "ms_per_image_mean": round(1000 * statistics.fmean(times), 1),
    }
