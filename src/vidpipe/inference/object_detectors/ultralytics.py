"""Ultralytics YOLOv8 / YOLO11 detect exports: one [1, 4+C, N] output of centre boxes and class scores."""

from __future__ import annotations

from typing import Any

import numpy as np

from vidpipe.domain.detections import FloatArray, IntArray
from vidpipe.inference.object_detector import ObjectDetector, UInt8Image
from vidpipe.inference.preprocess import letterbox, to_nchw


def decode_ultralytics(raw: np.ndarray[Any, Any]) -> tuple[FloatArray, FloatArray]:
    """(4+C, N) → boxes (N, 4) xyxy in input pixels and class scores (N, C). No objectness in v8+."""
    rows = raw.T
    cx, cy, w, h = rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3]
    xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    return xyxy.astype(np.float32), rows[:, 4:].astype(np.float32)


class UltralyticsDetector(ObjectDetector):
    def _candidates(self, image: UInt8Image, confidence: float) -> tuple[FloatArray, FloatArray, IntArray]:
        input_hw = self.input_hw((640, 640))
        canvas, box = letterbox(image, input_hw, centred=True, pad_value=114)
        blob = to_nchw(canvas, mean=0.0, std=255.0)
        raw = self.run({self.input_name(): blob})[0][0]
        xyxy, class_scores = decode_ultralytics(raw)
        class_id = class_scores.argmax(axis=1)
        scores = class_scores[np.arange(len(class_id)), class_id]
        keep = scores >= confidence
        return box.to_source(xyxy[keep]), scores[keep], class_id[keep].astype(np.int64)
