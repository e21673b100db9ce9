"""COCO box mAP through pycocotools: reference numbers, synthetic cases, ignore flags, edge cases."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from vidpipe.evaluation.coco_map import CocoScores, detections_to_coco, evaluate_coco


def _data_dir() -> Path:
    env = os.environ.get("VIDPIPE_TEST_DATA_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


DATA = _data_dir()
needs_data = pytest.mark.skipif(
    not DATA.is_dir(), reason=f"test data folder {DATA} is absent (set VIDPIPE_TEST_DATA_DIR to it)"
)
REFERENCE = DATA / "detection" / "coco_eval_reference"
VOC100 = DATA / "detection" / "voc_100" / "instances_coco80.json"

# The values pycocotools gives for these files, as quoted in shared/data/README.md (from
# rafaelpadilla/review_object_detection_metrics tests/test_coco_eval.py).
REFERENCE_SCORES = {
    "ap": 0.503647,
    "ap50": 0.696973,
    "ap75": 0.571667,
    "ap_small": 0.593252,
    "ap_medium": 0.557991,
    "ap_large": 0.489363,
    "ar1": 0.386813,
    "ar10": 0.593680,
    "ar100": 0.595353,
    "ar_small": 0.654764,
    "ar_medium": 0.603130,
    "ar_large": 0.553744,
}


def _gt(annotations: list[dict[str, Any]], n_images: int = 2) -> dict[str, Any]:
    """A minimal ground truth: no "info", no "licenses", ids and areas left for evaluate_coco to fill."""
    return {
        "images": [{"id": i, "width": 640, "height": 480} for i in range(1, n_images + 1)],
        "categories": [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}],
        "annotations": annotations,
    }


def _box(image_id: int, category_id: int, bbox: list[float], **extra: Any) -> dict[str, Any]:
    return {"image_id": image_id, "category_id": category_id, "bbox": bbox, **extra}


def _det(image_id: int, category_id: int, bbox: list[float], score: float) -> dict[str, Any]:
    return {"image_id": image_id, "category_id": category_id, "bbox": bbox, "score": score}


# Large boxes only (all > 96² px), so the small and medium buckets hold no ground truth.
BOXES = [
    _box(1, 1, [10, 20, 100, 200]),
    _box(1, 3, [300, 100, 200, 120]),
    _box(2, 1, [50, 50, 150, 300]),
]


# --- the pycocotools reference files --------------------------------------------------------------


@pytest.mark.data
@needs_data
@pytest.mark.parametrize("as_dict", [False, True], ids=["paths", "in-memory"])
def test_reproduces_reference_numbers(as_dict: bool) -> None:
    # sampled_gts_bbox_area.json is the ground truth (830 boxes, iscrowd 0); cocoapi_results.json is
    # the 734 detections as a plain result list (sampled_bbox_results.json holds the same 734 wrapped
    # in a dataset object).
    gt_path = REFERENCE / "sampled_gts_bbox_area.json"
    detections = json.loads((REFERENCE / "cocoapi_results.json").read_text())
    before = copy.deepcopy(detections)
    ground_truth: dict[str, Any] | Path = json.loads(gt_path.read_text()) if as_dict else gt_path
    scores = evaluate_coco(ground_truth, detections)
    for name, expected in REFERENCE_SCORES.items():
        assert getattr(scores, name) == pytest.approx(expected, abs=1e-6), name
    assert detections == before, "evaluate_coco must not modify the detections"


# --- synthetic ground truth ------------------------------------------------------------------------


def test_perfect_detections_score_one() -> None:
    dets = [_det(b["image_id"], b["category_id"], b["bbox"], 0.9) for b in BOXES]
    scores = evaluate_coco(_gt(copy.deepcopy(BOXES)), dets)
    assert scores.ap == pytest.approx(1.0)
    assert scores.ap50 == pytest.approx(1.0)
    assert scores.ap75 == pytest.approx(1.0)
    assert scores.ap_large == pytest.approx(1.0)
    assert scores.ar100 == pytest.approx(1.0)
    # pycocotools' "undefined" marker: no small or medium ground truth to score.
    assert scores.ap_small == -1.0
    assert scores.ap_medium == -1.0
    assert scores.ar_small == -1.0


def test_shifted_box_lowers_ap() -> None:
    dets = [_det(b["image_id"], b["category_id"], b["bbox"], 0.9) for b in BOXES]
    # Shift the first 100×200 box right by 20 px: IoU = 80·200 / (120·200 + 20·200) = 16000/28000 ≈ 0.571.
    dets[0]["bbox"] = [30, 20, 100, 200]
    scores = evaluate_coco(_gt(copy.deepcopy(BOXES)), dets)
    assert scores.ap50 == pytest.approx(1.0)  # still a match at IoU 0.50
    assert scores.ap75 < 1.0  # not at 0.75
    assert scores.ap < 1.0
    assert scores.ar100 < 1.0


def test_empty_detections_score_zero() -> None:
    scores = evaluate_coco(_gt(copy.deepcopy(BOXES)), [])
    for name in ("ap", "ap50", "ap75", "ap_large", "ar1", "ar10", "ar100", "ar_large"):
        assert getattr(scores, name) == 0.0, name
    # Buckets with no ground truth stay undefined, exactly as pycocotools reports them.
    assert scores.ap_small == -1.0
    assert scores.ar_medium == -1.0


def test_missing_info_and_licenses_and_inputs_untouched() -> None:
    gt = _gt(copy.deepcopy(BOXES))
    assert "info" not in gt and "licenses" not in gt
    before = copy.deepcopy(gt)
    dets = [_det(b["image_id"], b["category_id"], b["bbox"], 0.5) for b in BOXES]
    dets_before = copy.deepcopy(dets)
    assert evaluate_coco(gt, dets).ap == pytest.approx(1.0)
    assert gt == before
    assert dets == dets_before


def test_false_positive_on_image_without_boxes_lowers_precision() -> None:
    gt = _gt([_box(1, 1, [10, 20, 100, 200])], n_images=2)
    good = _det(1, 1, [10, 20, 100, 200], 0.5)
    stray = _det(2, 1, [10, 20, 100, 200], 0.9)  # higher score, on an image with no person
    assert evaluate_coco(gt, [good]).ap == pytest.approx(1.0)
    assert evaluate_coco(gt, [good, stray]).ap == pytest.approx(0.5, abs=0.01)
    # Restricted to image 1 the stray detection is not scored.
    assert evaluate_coco(gt, [good, stray], image_ids=[1]).ap == pytest.approx(1.0)


def test_annotation_id_zero_is_not_mistaken_for_unmatched() -> None:
    # pycocotools stores matches as ids and 0 as "no match"; evaluate_coco renumbers from 1.
    gt = _gt([_box(1, 1, [10, 20, 100, 200], id=0), _box(2, 1, [50, 50, 150, 300], id=0)])
    dets = [_det(1, 1, [10, 20, 100, 200], 0.9), _det(2, 1, [50, 50, 150, 300], 0.8)]
    assert evaluate_coco(gt, dets).ap == pytest.approx(1.0)


# --- ignore flags ---------------------------------------------------------------------------------

IGNORED = [
    _box(1, 1, [10, 20, 100, 200]),
    _box(1, 1, [300, 50, 150, 250], ignore=1, iscrowd=0),  # a VOC "difficult" box, as voc_100 marks it
]


def test_detection_on_ignored_box_does_not_lower_precision() -> None:
    # The best-scored detection sits on the ignored box: were it a false positive, AP would drop to
    # about 0.5 (precision 1/2 at the only recall point).
    dets = [_det(1, 1, [300, 50, 150, 250], 0.95), _det(1, 1, [10, 20, 100, 200], 0.9)]
    scores = evaluate_coco(_gt(copy.deepcopy(IGNORED)), dets)
    assert scores.ap == pytest.approx(1.0)
    assert scores.ar100 == pytest.approx(1.0)
    # Duplicates on the ignored box are ignored too (crowd boxes absorb any number of matches).
    dup = [*dets, _det(1, 1, [302, 52, 148, 248], 0.97), _det(1, 1, [298, 50, 150, 250], 0.96)]
    assert evaluate_coco(_gt(copy.deepcopy(IGNORED)), dup).ap == pytest.approx(1.0)


def test_missed_ignored_box_is_not_a_miss() -> None:
    dets = [_det(1, 1, [10, 20, 100, 200], 0.9)]
    assert evaluate_coco(_gt(copy.deepcopy(IGNORED)), dets).ar100 == pytest.approx(1.0)
    # The same box without the flag is an ordinary miss: half the people are found.
    plain = [{k: v for k, v in b.items() if k != "ignore"} for b in IGNORED]
    assert evaluate_coco(_gt(plain), dets).ar100 == pytest.approx(0.5)


def test_plain_pycocotools_discards_the_ignore_key() -> None:
    """Pins the upstream behaviour that evaluate_coco works around (cocoapi issues #123, #466).

    If this starts failing, pycocotools honours "ignore" itself and the note in coco_map.py is stale.
    """
    gt = _gt([dict(b, id=i) for i, b in enumerate(copy.deepcopy(IGNORED), start=1)])
    for ann in gt["annotations"]:
        ann["area"] = ann["bbox"][2] * ann["bbox"][3]
        ann.setdefault("iscrowd", 0)
    gt["info"], gt["licenses"] = {}, []
    coco_gt = COCO()
    coco_gt.dataset = gt
    coco_gt.createIndex()
    coco_dt = coco_gt.loadRes([_det(1, 1, [10, 20, 100, 200], 0.9)])
    ev = COCOeval(coco_gt, coco_dt, iouType="bbox")
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    assert ev.stats[8] == pytest.approx(0.5)  # AR100: the ignore=1 box counted as a miss


@pytest.mark.data
@needs_data
def test_voc100_difficult_boxes_are_ignored() -> None:
    gt = json.loads(VOC100.read_text())
    anns = gt["annotations"]
    assert sum(a["ignore"] for a in anns) == 38 and all(a["iscrowd"] == 0 for a in anns)
    every_box = [_det(a["image_id"], a["category_id"], a["bbox"], 1.0) for a in anns]
    easy_only = [d for d, a in zip(every_box, anns, strict=True) if not a["ignore"]]
    for dets in (every_box, easy_only):
        scores = evaluate_coco(gt, dets)
        assert scores.ap == pytest.approx(1.0)
        assert scores.ar100 == pytest.approx(1.0)


# --- validation and helpers -----------------------------------------------------------------------


def test_detection_on_unknown_image_is_rejected() -> None:
    with pytest.raises(ValueError, match="not images of the ground truth"):
        evaluate_coco(_gt(copy.deepcopy(BOXES)), [_det(99, 1, [0, 0, 10, 10], 0.5)])


def test_unknown_image_ids_are_rejected() -> None:
    with pytest.raises(ValueError, match="image_ids not in the ground truth"):
        evaluate_coco(_gt(copy.deepcopy(BOXES)), [], image_ids=[1, 42])


def test_ground_truth_without_annotations_key_is_rejected() -> None:
    with pytest.raises(ValueError, match="lacks the COCO key"):
        evaluate_coco({"images": [], "categories": []}, [])


def test_detections_to_coco_converts_xyxy_to_xywh() -> None:
    xyxy = np.array([[10, 20, 110, 220], [0.5, 1.5, 2.5, 4.5]], np.float32)
    rows = detections_to_coco(7, xyxy, np.array([0.9, 0.25]), np.array([1, 3]))
    assert rows == [
        {"image_id": 7, "category_id": 1, "bbox": [10.0, 20.0, 100.0, 200.0], "score": pytest.approx(0.9)},
        {"image_id": 7, "category_id": 3, "bbox": [0.5, 1.5, 2.0, 3.0], "score": 0.25},
    ]
    assert all(type(v) is float for v in rows[0]["bbox"])
    assert detections_to_coco(1, np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64)) == []
    with pytest.raises(ValueError, match="scores must have shape"):
        detections_to_coco(1, xyxy, np.array([0.9]), np.array([1, 3]))
    with pytest.raises(ValueError, match="x2 >= x1"):
        detections_to_coco(1, np.array([[10, 10, 5, 20]]), np.array([0.5]), np.array([1]))


def test_detections_to_coco_round_trip_scores_one() -> None:
    xyxy = np.array([[10, 20, 110, 220], [300, 100, 500, 220]], np.float64)
    dets = detections_to_coco(1, xyxy, np.array([0.8, 0.7]), np.array([1, 3]))
    gt = _gt(copy.deepcopy(BOXES[:2]), n_images=1)
    assert evaluate_coco(gt, dets).ap == pytest.approx(1.0)


def test_scores_as_dict_keeps_summarize_order() -> None:
    scores = CocoScores.from_stats([float(i) for i in range(12)])
    assert list(scores.as_dict()) == list(REFERENCE_SCORES)
    assert list(scores.as_dict().values()) == [float(i) for i in range(12)]
    with pytest.raises(ValueError, match="12 values"):
        CocoScores.from_stats([0.0] * 11)
