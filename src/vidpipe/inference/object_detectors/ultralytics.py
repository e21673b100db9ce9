"""Ultralytics YOLOv8 / YOLO11 detect exports: one [1, 4+C, N] output of centre boxes and class scores."""

from __future__ import annotations

from typing import Any

import numpy as np

from vidpipe.domain.detections import FloatArray, IntArray
from vidpipe.inference.object_detector import ObjectDetector, UInt8Image
from vidpipe.inference.preprocess import letterbox, to_nchw


def decode_ultralytics(raw: np.ndarray[Any, Any], confidence: float) -> tuple[FloatArray, FloatArray, IntArray]:
    """(4+C, N) output → boxes (K, 4) xyxy in input pixels, best-class scores (K,) and class ids (K,)
    of the K anchors whose best class scores at least ``confidence``. No objectness in v8+.

    Works on the export's own (C, N) layout: scanning contiguous class rows and decoding only the
    candidates is several times faster than transposing all N anchors first.
    """
    class_scores = raw[4:]
    best = class_scores.max(axis=0)
    keep = np.flatnonzero(best >= confidence)
    class_id = class_scores[:, keep].argmax(axis=0).astype(np.int64)
    cx, cy, w, h = raw[0, keep], raw[1, keep], raw[2, keep], raw[3, keep]
    xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype(np.float32)
    return xyxy, best[keep].astype(np.float32), class_id


class UltralyticsDetector(ObjectDetector):
    def _candidates(self, image: UInt8Image, confidence: float) -> tuple[FloatArray, FloatArray, IntArray]:
        input_hw = self.input_hw((640, 640))
        canvas, box = letterbox(image, input_hw, centred=True, pad_value=114)
        blob = to_nchw(canvas, mean=0.0, std=255.0)
        raw = self.run({self.input_name(): blob})[0][0]
        xyxy, scores, class_id = decode_ultralytics(raw, confidence)
        return box.to_source(xyxy), scores, class_id
