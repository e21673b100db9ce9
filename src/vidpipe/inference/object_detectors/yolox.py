"""YOLOX exports with the raw grid output (decode_in_inference=False), e.g. Megvii's yolox_nano.onnx."""

from __future__ import annotations

from typing import Any

import numpy as np

from vidpipe.domain.detections import FloatArray, IntArray
from vidpipe.inference.object_detector import ObjectDetector, UInt8Image
from vidpipe.inference.preprocess import letterbox

STRIDES = (8, 16, 32)


def yolox_grid(input_hw: tuple[int, int], strides: tuple[int, ...] = STRIDES) -> tuple[FloatArray, FloatArray]:
    """Cell offsets (A, 2) and the stride (A, 1) of every anchor, in the export's order."""
    grids, expanded = [], []
    for stride in strides:
        gh, gw = input_hw[0] // stride, input_hw[1] // stride
        ys, xs = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
        grids.append(np.stack([xs, ys], axis=-1).reshape(-1, 2))
        expanded.append(np.full((gh * gw, 1), stride))
    return np.concatenate(grids).astype(np.float32), np.concatenate(expanded).astype(np.float32)


def decode_yolox(raw: np.ndarray[Any, Any], input_hw: tuple[int, int]) -> tuple[FloatArray, FloatArray]:
    """Raw (A, 5+C) rows → boxes (A, 4) xyxy in input pixels and class scores (A, C) = objectness × class."""
    grid, stride = yolox_grid(input_hw)
    if len(grid) != len(raw):
        raise ValueError(f"YOLOX output has {len(raw)} anchors; an input of {input_hw} implies {len(grid)}")
    centre = (raw[:, :2] + grid) * stride
    size = np.exp(raw[:, 2:4]) * stride
    xyxy = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
    scores = raw[:, 4:5] * raw[:, 5:]
    return xyxy.astype(np.float32), scores.astype(np.float32)


class YoloxDetector(ObjectDetector):
    def _candidates(self, image: UInt8Image, confidence: float) -> tuple[FloatArray, FloatArray, IntArray]:
        input_hw = self.input_hw((416, 416))
        # YOLOX was trained on BGR 0..255 without normalisation, anchored top-left, padded with 114.
        canvas, box = letterbox(image[..., ::-1], input_hw, centred=False, pad_value=114)
        blob = np.ascontiguousarray(canvas.transpose(2, 0, 1)[None], dtype=np.float32)
        raw = self.run({self.input_name(): blob})[0][0]
        xyxy, class_scores = decode_yolox(raw, input_hw)
        class_id = class_scores.argmax(axis=1)
        scores = class_scores[np.arange(len(class_id)), class_id]
        keep = scores >= confidence
        return box.to_source(xyxy[keep]), scores[keep], class_id[keep].astype(np.int64)
