"""Ultra-Light-Fast face detector (Linzaer), RFB-320: boxes only, already decoded by the export."""

from __future__ import annotations

from typing import ClassVar

import cv2
import numpy as np

from vidpipe.domain.detections import Detections
from vidpipe.inference.face_detector import FACE_CLASSES, FaceDetector, UInt8Image
from vidpipe.inference.nms import nms
from vidpipe.inference.preprocess import to_nchw


class UltraFaceDetector(FaceDetector):
    landmark_count: ClassVar[int] = 0
    nominal_input_hw: ClassVar[tuple[int, int]] = (240, 320)

    def _detect_once(self, image: UInt8Image) -> Detections:
        h, w = image.shape[:2]
        in_h, in_w = self.input_hw(self.nominal_input_hw)
        # The model was trained on images stretched to its input, not letterboxed.
        # Bilinear like the model's reference demo; area averaging is several times slower on big photos.
        resized = np.asarray(cv2.resize(image, (in_w, in_h), interpolation=cv2.INTER_LINEAR), np.uint8)
        blob = to_nchw(resized, mean=127.0, std=128.0)
        scores_raw, boxes_raw = self.run({self.input_name(): blob})
        scores = scores_raw[0][:, 1]
        keep = scores >= self.confidence
        xyxy = boxes_raw[0][keep] * np.asarray([w, h, w, h], np.float32)
        scores = scores[keep]
        kept = nms(xyxy, scores, self.nms_iou)
        return Detections.from_arrays(xyxy[kept], scores[kept], class_names=FACE_CLASSES)
