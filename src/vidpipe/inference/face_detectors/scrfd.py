"""InsightFace SCRFD exports with 5 landmarks (score/bbox/kps outputs for strides 8, 16, 32)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from vidpipe.domain.detections import Detections, FloatArray
from vidpipe.inference.face_detector import FACE_CLASSES, FaceDetector, UInt8Image
from vidpipe.inference.nms import nms
from vidpipe.inference.preprocess import letterbox, to_nchw

STRIDES = (8, 16, 32)
ANCHORS_PER_CELL = 2


def anchor_centres(input_hw: tuple[int, int], stride: int) -> FloatArray:
    """(cells × anchors, 2) x, y centres in input pixels, in the export's row order."""
    gh, gw = input_hw[0] // stride, input_hw[1] // stride
    ys, xs = np.mgrid[:gh, :gw]
    centres = (np.stack([xs, ys], axis=-1).reshape(-1, 2) * stride).astype(np.float32)
    return np.repeat(centres, ANCHORS_PER_CELL, axis=0)


def decode_scrfd(
    outputs: dict[str, np.ndarray[Any, Any]], input_hw: tuple[int, int], confidence: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Boxes (N, 4), scores (N,) and landmarks (N, 5, 2) in input pixels, above ``confidence``."""
    boxes, scores, points = [], [], []
    for stride in STRIDES:
        score = outputs[f"score_{stride}"].reshape(-1)
        keep = score >= confidence
        if not keep.any():
            continue
        centres = anchor_centres(input_hw, stride)[keep]
        dist = outputs[f"bbox_{stride}"].reshape(-1, 4)[keep] * stride
        boxes.append(np.concatenate([centres - dist[:, :2], centres + dist[:, 2:]], axis=1))
        kps = outputs[f"kps_{stride}"].reshape(-1, 5, 2)[keep] * stride
        points.append(kps + centres[:, None, :])
        scores.append(score[keep])
    if not boxes:
        return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), np.zeros((0, 5, 2), np.float32)
    return (
        np.concatenate(boxes).astype(np.float32),
        np.concatenate(scores).astype(np.float32),
        np.concatenate(points).astype(np.float32),
    )


class ScrfdDetector(FaceDetector):
    landmark_count: ClassVar[int] = 5
    nominal_input_hw: ClassVar[tuple[int, int]] = (640, 640)

    def _detect_once(self, image: UInt8Image) -> Detections:
        input_hw = self.input_hw(self.nominal_input_hw)
        canvas, box = letterbox(image, input_hw, centred=False, pad_value=0)
        blob = to_nchw(canvas, mean=127.5, std=128.0)
        names = [o.name for o in self.session.get_outputs()]
        outputs = dict(zip(names, self.run({self.input_name(): blob}), strict=True))
        xyxy, scores, kps = decode_scrfd(outputs, input_hw, self.confidence)
        keep = nms(xyxy, scores, self.nms_iou)
        return Detections.from_arrays(
            box.to_source(xyxy[keep]),
            scores[keep],
            class_names=FACE_CLASSES,
            landmarks=box.points_to_source(kps[keep]),
        )
