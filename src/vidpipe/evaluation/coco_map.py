"""COCO box mAP / mAR through pycocotools, the reference implementation, without its pitfalls.

pycocotools does the matching and the averaging; this module only prepares its input and reads its
output. What it prepares:

- The ground truth is copied (pycocotools writes into the dicts it is given), ``info`` and
  ``licenses`` are filled in when missing, every annotation gets a fresh id 1..N (pycocotools treats
  an id of 0 as "unmatched"), ``area`` defaults to the box area and ``iscrowd`` to 0.
- ``ignore=1`` annotations (VOC "difficult" boxes) are turned into ``iscrowd=1``; see the ``_IGNORE_NOTE``
  comment below for why that is needed and what it does.
- An empty detection list is scored without ``COCO.loadRes`` (which fails on ``[]``): pycocotools
  then reports 0.0 for every number whose area range holds ground truth.

pycocotools prints progress on stdout; that is captured and dropped. ``contextlib.redirect_stdout``
swaps ``sys.stdout`` for the whole process, so do not rely on other threads' prints while scoring.

Numbers are pycocotools' own: a value of -1.0 means "undefined", pycocotools' marker for a metric with
no ground truth to score (for example ``ap_small`` when no box is smaller than 32×32 px).
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

# _IGNORE_NOTE: how pycocotools 2.0.11 treats an annotation's "ignore" key (cocoeval.py, read in the
# installed package):
#
#   COCOeval._prepare:   gt['ignore'] = gt['ignore'] if 'ignore' in gt else 0
#                        gt['ignore'] = 'iscrowd' in gt and gt['iscrowd']
#
# The second line overwrites the first, so the annotation's own "ignore" value is thrown away and only
# "iscrowd" decides (a long-standing upstream bug: cocodataset/cocoapi issues #123 and #466, PRs #322,
# #465 and #640, all still open). A box with ignore=1, iscrowd=0 - how voc_100's instances_coco80.json
# marks VOC "difficult" boxes - is scored as an ordinary box: missing it costs recall, and a detection
# on it is a true positive that competes with the rest.
#
# So every annotation with a truthy "ignore" is given iscrowd=1 here (on a copy). For a crowd box,
# COCOeval.evaluateImg / accumulate then:
#   - mark it _ignore and sort it after the ordinary boxes; a detection that can match an ordinary box
#     takes that one first ("if dt matched to reg gt, and on ignore gt, stop");
#   - give a detection matched to it dtIgnore=1, so it is neither a true nor a false positive;
#   - leave it out of the recall denominator (npig counts gtIgnore == 0 only), so it is never a miss;
#   - let any number of detections match it (the "already matched" check skips crowd boxes), so
#     duplicate detections of a difficult object are ignored too, as in the VOC devkit.
# One difference from the VOC devkit: against a crowd box pycocotools measures the overlap as
# intersection / detection area (maskUtils.iou with iscrowd=1), not as IoU. A detection lying mostly
# inside a difficult box is therefore ignored even when it is much smaller than the box.

_REQUIRED_GT_KEYS = ("images", "annotations", "categories")
_DETECTION_KEYS = ("image_id", "category_id", "bbox", "score")


@dataclass(frozen=True)
class CocoScores:
    """The 12 numbers of ``COCOeval.summarize()`` for boxes, in its order.

    AP is averaged over IoU 0.50:0.05:0.95 (``ap50``/``ap75`` at one threshold), AR at most 1, 10 or
    100 detections per image; small/medium/large are areas below 32², up to 96², above 96² px
    (all at 100 detections). -1.0 marks a metric with no ground truth to score.
    """

    ap: float
    ap50: float
    ap75: float
    ap_small: float
    ap_medium: float
    ap_large: float
    ar1: float
    ar10: float
    ar100: float
    ar_small: float
    ar_medium: float
    ar_large: float

    @classmethod
    def from_stats(cls, stats: Sequence[float]) -> CocoScores:
        """From ``COCOeval.stats`` (12 values in summarize order)."""
        n = len(fields(cls))
        if len(stats) != n:
            raise ValueError(f"COCOeval stats must have {n} values, got {len(stats)}")
        return cls(*(float(v) for v in stats))

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def detections_to_coco(
    image_id: int,
    xyxy: np.ndarray[Any, Any],
    scores: np.ndarray[Any, Any],
    category_ids: np.ndarray[Any, Any],
) -> list[dict[str, Any]]:
    """COCO result dicts for one image's boxes given as x1, y1, x2, y2 (bbox becomes [x, y, w, h])."""
    boxes = np.asarray(xyxy, dtype=np.float64)
    n = len(boxes)
    if boxes.shape != (n, 4):
        raise ValueError(f"xyxy must have shape (N, 4), got {boxes.shape}")
    score_arr = np.asarray(scores, dtype=np.float64)
    cat_arr = np.asarray(category_ids)
    if score_arr.shape != (n,):
        raise ValueError(f"scores must have shape ({n},) to match xyxy, got {score_arr.shape}")
    if cat_arr.shape != (n,):
        raise ValueError(f"category_ids must have shape ({n},) to match xyxy, got {cat_arr.shape}")
    wh = boxes[:, 2:] - boxes[:, :2]
    if n and float(wh.min()) < 0:
        raise ValueError("xyxy boxes must have x2 >= x1 and y2 >= y1 (were x, y, w, h boxes passed?)")
    return [
        {
            "image_id": int(image_id),
            "category_id": int(cat_arr[i]),
            "bbox": [float(boxes[i, 0]), float(boxes[i, 1]), float(wh[i, 0]), float(wh[i, 1])],
            "score": float(score_arr[i]),
        }
        for i in range(n)
    ]


def _load_ground_truth(ground_truth: Mapping[str, Any] | str | Path) -> dict[str, Any]:
    """A private, normalised copy of the ground truth (see the module docstring)."""
    if isinstance(ground_truth, str | Path):
        with Path(ground_truth).open(encoding="utf-8") as f:
            data = json.load(f)
        source = repr(str(ground_truth))
    else:
        data = copy.deepcopy(dict(ground_truth))
        source = "the ground-truth dict"
    if not isinstance(data, dict):
        raise ValueError(f"{source} must hold a COCO dataset object, got {type(data).__name__}")
    missing = [k for k in _REQUIRED_GT_KEYS if k not in data]
    if missing:
        raise ValueError(f"{source} lacks the COCO key(s) {missing}; it has {sorted(data)}")
    data.setdefault("info", {})
    data.setdefault("licenses", [])
    for new_id, ann in enumerate(data["annotations"], start=1):
        absent = [k for k in ("image_id", "category_id", "bbox") if k not in ann]
        if absent:
            raise ValueError(f"ground-truth annotation #{new_id} in {source} lacks {absent}")
        _, _, w, h = (float(v) for v in ann["bbox"])
        ann["id"] = new_id
        ann.setdefault("area", w * h)
        # ignore=1 → iscrowd=1: pycocotools itself discards "ignore" (see _IGNORE_NOTE above).
        ann["iscrowd"] = int(bool(ann.get("iscrowd", 0)) or bool(ann.get("ignore", 0)))
    return data


def _copy_detections(detections: Sequence[Mapping[str, Any]], image_ids: set[int]) -> list[dict[str, Any]]:
    """Fresh result dicts (``COCO.loadRes`` adds keys to the dicts it gets), checked."""
    out: list[dict[str, Any]] = []
    unknown: set[int] = set()
    for i, det in enumerate(detections):
        absent = [k for k in _DETECTION_KEYS if k not in det]
        if absent:
            raise ValueError(f"detection #{i} lacks {absent}; each needs {list(_DETECTION_KEYS)}")
        bbox = [float(v) for v in det["bbox"]]
        if len(bbox) != 4 or bbox[2] < 0 or bbox[3] < 0:
            raise ValueError(f"detection #{i} bbox must be [x, y, width, height] with width, height >= 0")
        image_id = int(det["image_id"])
        if image_id not in image_ids:
            unknown.add(image_id)
        out.append(
            {
                "image_id": image_id,
                "category_id": int(det["category_id"]),
                "bbox": bbox,
                "score": float(det["score"]),
            }
        )
    if unknown:
        raise ValueError(
            f"{len(unknown)} detection image id(s) are not images of the ground truth, e.g. {sorted(unknown)[:5]}"
        )
    return out


def evaluate_coco(
    ground_truth: Mapping[str, Any] | str | Path,
    detections: Sequence[Mapping[str, Any]],
    *,
    image_ids: Sequence[int] | None = None,
) -> CocoScores:
    """Box mAP/mAR of ``detections`` against a COCO ground truth (a dataset dict or a json path).

    ``detections`` are COCO result dicts ``{"image_id", "category_id", "bbox": [x, y, w, h], "score"}``;
    every image id must be an image of the ground truth. ``image_ids`` limits scoring to those images
    (default: every image of the ground truth, including images with no boxes, where any detection is
    a false positive). Neither argument is modified.
    """
    gt = _load_ground_truth(ground_truth)
    gt_image_ids = {int(img["id"]) for img in gt["images"]}
    dets = _copy_detections(detections, gt_image_ids)
    selected: list[int] | None = None
    if image_ids is not None:
        selected = sorted({int(i) for i in image_ids})
        if not selected:
            raise ValueError("image_ids is empty; pass None to score every ground-truth image")
        outside = [i for i in selected if i not in gt_image_ids]
        if outside:
            raise ValueError(f"image_ids not in the ground truth: {outside[:5]}")
    elif not gt_image_ids:
        raise ValueError("the ground truth has no images to score")

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        if dets:
            coco_dt = coco_gt.loadRes(dets)
        else:
            coco_dt = COCO()
            coco_dt.dataset = {
                "info": {},
                "images": list(gt["images"]),
                "categories": copy.deepcopy(gt["categories"]),
                "annotations": [],
            }
            coco_dt.createIndex()
        evaluator = COCOeval(coco_gt, coco_dt, iouType="bbox")
        if selected is not None:
            evaluator.params.imgIds = selected
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return CocoScores.from_stats([float(v) for v in evaluator.stats])
