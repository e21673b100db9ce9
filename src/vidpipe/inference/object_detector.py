"""Object detection interface: an image in, COCO-80 ``Detections`` in source pixels out."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar

import numpy as np

from vidpipe.domain.coco import COCO80
from vidpipe.domain.detections import Detections, FloatArray, IntArray
from vidpipe.inference.base import Model
from vidpipe.inference.nms import batched_nms
from vidpipe.inference.specs import ModelSpec, Task
from vidpipe.settings import Settings

UInt8Image = np.ndarray[Any, np.dtype[np.uint8]]


class ObjectDetector(Model):
    """Subclasses implement ``_candidates``; this class thresholds, runs NMS and clips to the image."""

    task: ClassVar[Task] = Task.OBJECT_DETECTION
    default_model: ClassVar[str] = "yolox_nano"
    class_names: tuple[str, ...] = COCO80

    def __init__(
        self,
        model: str | ModelSpec | None = None,
        *,
        settings: Settings | None = None,
        confidence: float | None = None,
        nms_iou: float | None = None,
        max_detections: int = 300,
    ) -> None:
        super().__init__(model, settings=settings)
        self.confidence = (
            confidence or self.settings.vision.object_confidence or self.spec.thresholds.get("confidence", 0.5)
        )
        self.nms_iou = nms_iou or self.spec.thresholds.get("nms_iou", 0.45)
        self.max_detections = max_detections

    def detect(self, image: UInt8Image) -> Detections:
        """Detect objects in an H×W×3 uint8 RGB image; boxes in that image's pixels."""
        xyxy, scores, class_id = self._candidates(image, self.confidence)
        keep = batched_nms(xyxy, scores, class_id, self.nms_iou)[: self.max_detections]
        found = Detections(
            xyxy=xyxy[keep], confidence=scores[keep], class_id=class_id[keep], class_names=self.class_names
        )
        h, w = image.shape[:2]
        return found.clip_to(w, h)

    @abstractmethod
    def _candidates(self, image: UInt8Image, confidence: float) -> tuple[FloatArray, FloatArray, IntArray]:
        """Boxes (xyxy, source pixels), scores and class ids of all candidates above ``confidence``."""


def _output_layout(session: Any) -> str:
    """'ultralytics' for [1, 4+C, N] outputs, 'yolox' for [1, N, 5+C]."""
    shape = session.get_outputs()[0].shape
    last, middle = shape[-1], shape[-2]
    if isinstance(middle, int) and isinstance(last, int):
        return "ultralytics" if middle < last else "yolox"
    return "ultralytics" if isinstance(middle, int) else "yolox"


def create_object_detector(
    model: str | None = None, *, settings: Settings | None = None, confidence: float | None = None
) -> ObjectDetector:
    """The detector for a registered model name or a path to a user's .onnx export.

    A path gets its format from the shape of its output: Ultralytics exports put the 84 box+class
    rows before the anchors, YOLOX exports the other way round.
    """
    from pathlib import Path

    from vidpipe.errors import ModelError
    from vidpipe.inference.object_detectors.ultralytics import UltralyticsDetector
    from vidpipe.inference.object_detectors.yolox import YoloxDetector
    from vidpipe.inference.sessions import get_session
    from vidpipe.inference.specs import ModelFile, get_spec
    from vidpipe.settings import get_settings

    settings = settings or get_settings()
    name = model or settings.vision.object_detector
    if name.endswith(".onnx"):
        path = Path(name).expanduser().resolve()
        if not path.is_file():
            raise ModelError(f"model file {name!r} does not exist")
        layout = _output_layout(get_session(path, settings.runtime))
        spec = ModelSpec(
            name=path.stem,
            task=Task.OBJECT_DETECTION,
            files=(ModelFile(str(path), None),),
            licence="unknown (user file)",
            source=str(path),
            input_format=f"{layout} export",
            thresholds={"confidence": 0.5, "nms_iou": 0.7 if layout == "ultralytics" else 0.45},
        )
    else:
        spec = get_spec(name)
        layout = "ultralytics" if name.startswith("yolov") else "yolox"
    cls: type[ObjectDetector] = UltralyticsDetector if layout == "ultralytics" else YoloxDetector
    return cls(spec, settings=settings, confidence=confidence)
