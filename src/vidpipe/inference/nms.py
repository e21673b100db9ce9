"""Non-maximum suppression on numpy arrays."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from vidpipe.domain.detections import Detections, FloatArray, IntArray


def box_iou(a: FloatArray, b: FloatArray) -> FloatArray:
    """Pairwise IoU of (N, 4) and (M, 4) xyxy boxes → (N, M)."""
    tl = np.maximum(a[:, None, :2], b[None, :, :2])
    br = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(br - tl, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0).astype(np.float32)


def box_inside(a: FloatArray, b: FloatArray) -> FloatArray:
    """Pairwise share of each (N, 4) box ``a`` that lies inside each (M, 4) box ``b`` → (N, M)."""
    tl = np.maximum(a[:, None, :2], b[None, :, :2])
    br = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(br - tl, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    return np.where(area_a[:, None] > 0, inter / np.maximum(area_a[:, None], 1e-12), 0.0).astype(np.float32)


def box_ios(a: FloatArray, b: FloatArray) -> FloatArray:
    """Pairwise intersection over the smaller box of (N, 4) and (M, 4) boxes → (N, M): 1.0 when one
    holds the other, whichever is larger."""
    return np.maximum(box_inside(a, b), box_inside(b, a).T)


def as_boxes(*boxes: Sequence[float]) -> FloatArray:
    """Loose x1, y1, x2, y2 boxes as one (N, 4) array for the pairwise functions."""
    return np.asarray(boxes, dtype=np.float32).reshape(-1, 4)


def group_boxes(found: Detections, ios: float) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Which boxes only hold a group: a box holding (``ios`` of each, over the smaller box) two or more
    boxes of its class that are not parts of one another, each found at least as confidently as it.
    A detector that also draws one box around two birds is surer of each bird than of the pair;
    one whole object drawn again as two halves is the other way round (the whole is surer)."""
    n = len(found)
    group = np.zeros(n, bool)
    if n < 3:
        return group
    inside = box_ios(found.xyxy, found.xyxy) >= ios
    for g in range(n):
        members = [
            m
            for m in range(n)
            if m != g
            and found.class_id[m] == found.class_id[g]
            and inside[g, m]
            and found.confidence[m] >= found.confidence[g]
        ]
        if any(not inside[a, b] for i, a in enumerate(members) for b in members[i + 1 :]):
            group[g] = True
    return group


def merge_parts(found: Detections, ios: float) -> Detections:
    """Boxes of one class lying mostly inside one another (intersection over the smaller box at
    least ``ios``) joined into their union, keeping the most confident part's confidence and row
    data: a detector that sees one object as two overlapping halves then reports one object. A box
    that only holds a group of separate objects (`group_boxes`) is dropped first, so that it does
    not join them into one."""
    groups = group_boxes(found, ios)
    if groups.any():
        found = found[np.flatnonzero(~groups)]
    n = len(found)
    if n < 2:
        return found
    order = np.argsort(-found.confidence).tolist()
    boxes = found.xyxy.astype(np.float32).copy()
    keep: list[int] = []
    absorbed = np.zeros(n, bool)
    for i in order:
        if absorbed[i]:
            continue
        for j in order:
            if j == i or absorbed[j] or found.class_id[j] != found.class_id[i]:
                continue
            if box_ios(boxes[i : i + 1], boxes[j : j + 1])[0, 0] >= ios:
                boxes[i] = np.concatenate(
                    [np.minimum(boxes[i, :2], boxes[j, :2]), np.maximum(boxes[i, 2:], boxes[j, 2:])]
                )
                absorbed[j] = True
        keep.append(i)
    if not absorbed.any():
        return found
    kept = found[sorted(keep)]
    return Detections(
        xyxy=boxes[sorted(keep)],
        confidence=kept.confidence,
        class_id=kept.class_id,
        class_names=kept.class_names,
        landmarks=kept.landmarks,
        data=kept.data,
    )


# OpenCV's type stubs declare lists, while its binding takes numpy arrays directly (no per-box
# Python conversion), so its NMS functions are called untyped.
_dnn: Any = cv2.dnn


def _xywh(xyxy: FloatArray) -> FloatArray:
    return np.ascontiguousarray(np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1), dtype=np.float32)


def nms(xyxy: FloatArray, scores: FloatArray, iou_threshold: float) -> IntArray:
    """Indices of the boxes kept, highest score first (OpenCV's NMS, in C++).

    Greedy NMS: a box is dropped when its IoU with an already kept, higher-scored box exceeds
    ``iou_threshold``. Score thresholds are the caller's job; OpenCV only drops scores of exactly 0.
    """
    if len(xyxy) == 0:
        return np.zeros((0,), np.int64)
    scores = np.ascontiguousarray(scores, dtype=np.float32)
    keep = _dnn.NMSBoxes(_xywh(xyxy), scores, 0.0, float(iou_threshold))
    return np.asarray(keep, dtype=np.int64).reshape(-1)


def batched_nms(xyxy: FloatArray, scores: FloatArray, class_id: IntArray, iou_threshold: float) -> IntArray:
    """NMS within each class only: a box never suppresses a box of another class."""
    if len(xyxy) == 0:
        return np.zeros((0,), np.int64)
    scores = np.ascontiguousarray(scores, dtype=np.float32)
    keep = _dnn.NMSBoxesBatched(_xywh(xyxy), scores, np.asarray(class_id, np.int32), 0.0, float(iou_threshold))
    kept = np.asarray(keep, dtype=np.int64).reshape(-1)
    # OpenCV returns batched results grouped by class; callers expect best-first.
    return kept[np.argsort(-scores[kept], kind="stable")]
