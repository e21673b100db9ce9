"""Face detection interface, with the passes that make small models reliable on real photos.

A detector with a fixed, small input loses faces in two common cases:
- a large group photo is downscaled so far that small faces vanish: the image is also scanned in
  overlapping tiles at a higher resolution and the results merged;
- a tight face chip (a headshot, a 150×150 crop) fills the frame, while detectors are trained on
  faces with context around them: when the plain pass finds no face that covers a fair part of the
  image, the image is padded with a neutral border and scanned again.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from typing import Any, ClassVar

import cv2
import numpy as np

from vidpipe.domain.detections import Detections
from vidpipe.inference.base import Model
from vidpipe.inference.nms import box_iou
from vidpipe.inference.specs import ModelSpec, Task
from vidpipe.settings import Settings

UInt8Image = np.ndarray[Any, np.dtype[np.uint8]]
FACE_CLASSES = ("face",)


def merge_overlapping(found: Detections, iou_threshold: float, containment: float = 0.7) -> Detections:
    """Suppress boxes that overlap a higher-scored one by IoU, or lie mostly inside it.

    The containment rule removes partial faces cut at a tile border, which overlap the whole face
    by a small IoU but lie almost entirely inside it.
    """
    if len(found) == 0:
        return found
    order = np.argsort(-found.confidence, kind="stable")
    boxes = found.xyxy
    areas = found.area
    keep: list[int] = []
    for i in order.tolist():
        if keep:
            kept = np.asarray(keep)
            iou = box_iou(boxes[i : i + 1], boxes[kept])[0]
            tl = np.maximum(boxes[i, :2], boxes[kept, :2])
            br = np.minimum(boxes[i, 2:], boxes[kept, 2:])
            inter = np.prod(np.clip(br - tl, 0, None), axis=1)
            inside = inter / max(float(areas[i]), 1e-6)
            if (iou > iou_threshold).any() or (inside > containment).any():
                continue
        keep.append(i)
    return found[np.asarray(keep)]


def tile_windows(width: int, height: int, tile_wh: tuple[int, int], overlap: float) -> list[tuple[int, int, int, int]]:
    """Overlapping windows (x0, y0, x1, y1) of size ``tile_wh`` covering a width×height image."""

    def starts(length: int, tile: int) -> list[int]:
        if length <= tile:
            return [0]
        step = max(1, int(tile * (1 - overlap)))
        count = math.ceil((length - tile) / step) + 1
        # Spread the windows evenly so the last one ends exactly at the edge.
        return [round(i * (length - tile) / (count - 1)) for i in range(count)]

    tw, th = tile_wh
    return [(x, y, min(x + tw, width), min(y + th, height)) for y in starts(height, th) for x in starts(width, tw)]


class FaceDetector(Model):
    """Subclasses implement ``_detect_once``; ``detect`` adds tiling and the padded retry."""

    task: ClassVar[Task] = Task.FACE_DETECTION
    default_model: ClassVar[str] = "ultraface_rfb_320"
    landmark_count: ClassVar[int] = 0

    def __init__(
        self,
        model: str | ModelSpec | None = None,
        *,
        settings: Settings | None = None,
        confidence: float | None = None,
        nms_iou: float | None = None,
        tiling: bool = True,
        max_tiled_side: int = 2400,
        tile_overlap: float = 0.25,
        pad_retry: bool = True,
    ) -> None:
        super().__init__(model, settings=settings)
        self.confidence = (
            confidence or self.settings.vision.face_confidence or self.spec.thresholds.get("confidence", 0.5)
        )
        self.nms_iou = nms_iou or self.spec.thresholds.get("nms_iou", 0.4)
        self.tiling = tiling
        self.max_tiled_side = max_tiled_side
        self.tile_overlap = tile_overlap
        self.pad_retry = pad_retry

    nominal_input_hw: ClassVar[tuple[int, int]] = (640, 640)
    # Below this side in model-input pixels a face is unreliable in the plain pass.
    small_face_input_px: ClassVar[float] = 24.0

    def detect(self, image: UInt8Image, *, tiling: bool | None = None) -> Detections:
        """Faces in an H×W×3 uint8 RGB image; boxes and landmarks in that image's pixels.

        ``tiling`` overrides the detector's setting for this call (the tiled scan costs many passes).
        """
        h, w = image.shape[:2]
        passes = [self._detect_once(image)]
        if self.tiling if tiling is None else tiling:
            passes.append(self._detect_tiled(image))
        found = merge_overlapping(Detections.merge(passes), self.nms_iou)
        if self.pad_retry and not self._has_large_face(found, w, h):
            padded = self._detect_padded(image)
            found = merge_overlapping(Detections.merge([found, padded]), self.nms_iou)
        return found.clip_to(w, h).sorted_by_confidence()

    def _has_large_face(self, found: Detections, width: int, height: int) -> bool:
        # A face covering a fifth of the frame's area is one the plain pass handles well.
        return bool(len(found)) and float(found.area.max()) >= 0.05 * width * height

    def _detect_padded(self, image: UInt8Image) -> Detections:
        h, w = image.shape[:2]
        pad = int(0.5 * max(h, w))
        # A mid-grey border looks like background to the detector and adds no edges of its own.
        canvas = np.full((h + 2 * pad, w + 2 * pad, 3), 127, dtype=np.uint8)
        canvas[pad : pad + h, pad : pad + w] = image
        found = self._detect_once(canvas)
        return self._shift(found, -pad, -pad)

    def _detect_tiled(self, image: UInt8Image) -> Detections:
        h, w = image.shape[:2]
        in_h, in_w = self.input_hw(self.nominal_input_hw)
        # Tiling only pays off when the plain pass shrinks the image a lot.
        if max(h / in_h, w / in_w) < 1.6:
            return self._empty()
        scale = min(1.0, self.max_tiled_side / max(h, w))
        work = image
        if scale < 1.0:
            work = np.asarray(
                cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA), np.uint8
            )
        wh, ww = work.shape[:2]
        # Faces this large (in image pixels) are the plain pass's job; taking them from tiles too only
        # adds the false positives that high-resolution close-ups of skin, hands and cloth produce.
        largest = self.small_face_input_px / min(in_h / h, in_w / w)
        parts = []
        for x0, y0, x1, y1 in tile_windows(ww, wh, (in_w, in_h), self.tile_overlap):
            found = self._detect_once(np.ascontiguousarray(work[y0:y1, x0:x1]))
            if len(found):
                found = self._scale(self._shift(found, x0, y0), 1.0 / scale)
                sides = np.minimum(found.xyxy[:, 2] - found.xyxy[:, 0], found.xyxy[:, 3] - found.xyxy[:, 1])
                parts.append(found[sides < largest])
        if not parts:
            return self._empty()
        candidates = merge_overlapping(Detections.merge(parts), self.nms_iou)
        return candidates[[i for i in range(len(candidates)) if self._confirmed(image, candidates.xyxy[i])]]

    def _confirmed(self, image: UInt8Image, box: np.ndarray[Any, Any]) -> bool:
        """Whether a face found in a tile is found again in a crop with context around it.

        The crop is three times the face's size, so the detector sees the face at a scale it was
        trained for, with head and shoulders around it; texture that only looked like a face at
        tile resolution rarely survives this.
        """
        h, w = image.shape[:2]
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        half = 1.5 * max(box[2] - box[0], box[3] - box[1])
        x0, y0 = max(0, int(cx - half)), max(0, int(cy - half))
        x1, y1 = min(w, int(cx + half)), min(h, int(cy + half))
        again = self._detect_once(np.ascontiguousarray(image[y0:y1, x0:x1]))
        if not len(again):
            return False
        shifted = box.astype(np.float32)[None] - np.asarray([x0, y0, x0, y0], np.float32)
        return bool((box_iou(shifted, again.xyxy) > 0.3).any())

    def _empty(self) -> Detections:
        return Detections.empty(FACE_CLASSES, with_landmarks=self.landmark_count)

    @staticmethod
    def _shift(found: Detections, dx: float, dy: float) -> Detections:
        offset = np.asarray([dx, dy], np.float32)
        return Detections(
            xyxy=found.xyxy + np.tile(offset, 2),
            confidence=found.confidence,
            class_id=found.class_id,
            class_names=found.class_names,
            landmarks=None if found.landmarks is None else found.landmarks + offset,
        )

    @staticmethod
    def _scale(found: Detections, factor: float) -> Detections:
        return Detections(
            xyxy=found.xyxy * factor,
            confidence=found.confidence,
            class_id=found.class_id,
            class_names=found.class_names,
            landmarks=None if found.landmarks is None else found.landmarks * factor,
        )

    @abstractmethod
    def _detect_once(self, image: UInt8Image) -> Detections:
        """One forward pass over the whole image, with NMS; boxes in the image's pixels."""


def create_face_detector(
    model: str | None = None, *, settings: Settings | None = None, confidence: float | None = None
) -> FaceDetector:
    """The face detector registered under ``model`` (default: the settings' face detector)."""
    from vidpipe.errors import ModelError
    from vidpipe.inference.face_detectors.scrfd import ScrfdDetector
    from vidpipe.inference.face_detectors.ultraface import UltraFaceDetector
    from vidpipe.inference.specs import get_spec
    from vidpipe.settings import get_settings

    settings = settings or get_settings()
    spec = get_spec(model or settings.vision.face_detector)
    if spec.name.startswith("scrfd"):
        return ScrfdDetector(spec, settings=settings, confidence=confidence)
    if spec.name.startswith("ultraface"):
        return UltraFaceDetector(spec, settings=settings, confidence=confidence)
    raise ModelError(f"model {spec.name!r} is not a face detector vidpipe can run")
