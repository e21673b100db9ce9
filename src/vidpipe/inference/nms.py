"""Non-maximum suppression on numpy arrays."""

from __future__ import annotations

import numpy as np

from vidpipe.domain.detections import FloatArray, IntArray


def box_iou(a: FloatArray, b: FloatArray) -> FloatArray:
    """Pairwise IoU of (N, 4) and (M, 4) xyxy boxes → (N, M)."""
    tl = np.maximum(a[:, None, :2], b[None, :, :2])
    br = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(br - tl, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0).astype(np.float32)


def nms(xyxy: FloatArray, scores: FloatArray, iou_threshold: float) -> IntArray:
    """Indices of the boxes kept, highest score first.

    Greedy NMS: a box is dropped when its IoU with an already kept, higher-scored box exceeds
    ``iou_threshold``. Ties keep input order (stable sort), so results are reproducible.
    """
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        best = int(order[0])
        keep.append(best)
        if order.size == 1:
            break
        ious = box_iou(xyxy[best : best + 1], xyxy[order[1:]])[0]
        order = order[1:][ious <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def batched_nms(xyxy: FloatArray, scores: FloatArray, class_id: IntArray, iou_threshold: float) -> IntArray:
    """NMS within each class only: boxes are offset by class so that classes never overlap."""
    if len(xyxy) == 0:
        return np.zeros((0,), np.int64)
    offset = (class_id.astype(np.float32) * (float(xyxy.max()) + 1.0))[:, None]
    return nms(xyxy + offset, scores, iou_threshold)
