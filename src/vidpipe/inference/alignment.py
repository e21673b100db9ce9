"""Face alignment to the ArcFace 112×112 template from 5 landmarks."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from skimage.transform import SimilarityTransform

from vidpipe.domain.detections import FloatArray

# Where ArcFace-family models expect the left eye, right eye, nose tip and mouth corners in a
# 112×112 input (InsightFace's published template).
ARCFACE_TEMPLATE: FloatArray = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float32,
)


def similarity_matrix(landmarks: FloatArray, template: FloatArray = ARCFACE_TEMPLATE) -> FloatArray:
    """The 2×3 least-squares similarity transform (rotation, uniform scale, shift) from landmarks to template."""
    transform = SimilarityTransform.from_estimate(landmarks.astype(np.float64), template.astype(np.float64))
    return np.asarray(transform.params[:2], dtype=np.float32)


def align_face(
    image: np.ndarray[Any, np.dtype[np.uint8]], landmarks: FloatArray, size: int = 112
) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """An aligned size×size RGB face chip from an H×W×3 image and its (5, 2) landmarks."""
    if landmarks.shape != (5, 2):
        raise ValueError(f"alignment needs (5, 2) landmarks, got {landmarks.shape}")
    template = ARCFACE_TEMPLATE * (size / 112.0)
    matrix = similarity_matrix(landmarks, template)
    chip = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    return np.asarray(chip, np.uint8)
