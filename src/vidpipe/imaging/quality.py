"""Crop quality from 1 to 10: sharpness, exposure, size and, for faces, pose.

The score ranks reference crops ("which view of this person is best?") and gates new ones; the
components explain it, so a user can see why a crop scored low.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

# Laplacian variance at which sharpness reaches 1 - 1/e, at SHARPNESS_SIDE. Measured on 26 photos
# of the test data (scikit-image samples, portraits, face chips): 220-1690 as they are, median 55
# (7-580) after a Gaussian blur of sigma 2; so sharp photos score above 0.8, blurred ones about 0.4.
SHARPNESS_SIDE = 256
SHARPNESS_SCALE = 120.0
# Shorter side (pixels) at which size reaches full marks: ArcFace and dlib work at 112-150 px,
# object embedders at 224 px.
FULL_SIZE_FACE = 112
FULL_SIZE_OBJECT = 224
WEIGHTS_FACE = {"sharpness": 0.35, "exposure": 0.2, "size": 0.2, "pose": 0.25}
WEIGHTS_OBJECT = {"sharpness": 0.45, "exposure": 0.25, "size": 0.3}
LOW = 0.5  # a component below this is named in the reasons


@dataclass(frozen=True)
class QualityReport:
    score: float  # 1.0 .. 10.0, one decimal
    sharpness: float  # each component 0 .. 1
    exposure: float
    size: float
    pose: float | None
    reasons: tuple[str, ...]


def sharpness_score(gray: np.ndarray[Any, Any]) -> float:
    """Variance of the Laplacian at a fixed working size, mapped to 0..1 by a saturating curve.

    Resizing first makes the measure independent of the crop's resolution: a large crop is not
    sharper just because it has more pixels.
    """
    h, w = gray.shape[:2]
    scale = SHARPNESS_SIDE / max(1, min(h, w))
    if scale < 1:
        gray = cv2.resize(gray, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    variance = float(cv2.Laplacian(gray, cv2.CV_64F).var())
    return float(1.0 - np.exp(-variance / SHARPNESS_SCALE))


def exposure_score(gray: np.ndarray[Any, Any]) -> tuple[float, str | None]:
    """1 for a well-exposed crop; lower for a mean far from mid-grey or many clipped pixels."""
    mean = float(gray.mean()) / 255.0
    clipped_dark = float((gray < 5).mean())
    clipped_bright = float((gray > 250).mean())
    balance = 1.0 - min(1.0, abs(mean - 0.5) / 0.4) ** 2
    score = max(0.0, balance - 1.5 * (clipped_dark + clipped_bright))
    reason = None
    if score < LOW:
        reason = "underexposed" if mean < 0.5 else "overexposed"
    return score, reason


def pose_score(landmarks: np.ndarray[Any, Any]) -> float:
    """1 for a frontal, level face; toward 0 as it turns (yaw) or tilts (roll).

    Yaw from where the nose tip sits between the eyes (centred when frontal); roll from the angle
    of the eye line.
    """
    left_eye, right_eye, nose = landmarks[0], landmarks[1], landmarks[2]
    eye_vec = right_eye - left_eye
    eye_dist = float(np.linalg.norm(eye_vec))
    if eye_dist < 1e-6:
        return 0.0
    along = float(np.dot(nose - left_eye, eye_vec) / eye_dist**2)  # 0.5 when frontal
    yaw = min(1.0, abs(along - 0.5) * 2.0)
    roll = abs(float(np.degrees(np.arctan2(eye_vec[1], eye_vec[0]))))
    roll_penalty = min(1.0, roll / 45.0)
    return float(max(0.0, (1.0 - yaw) * (1.0 - 0.5 * roll_penalty)))


def assess_crop(
    crop: np.ndarray[Any, Any], *, landmarks: np.ndarray[Any, Any] | None = None, is_face: bool = False
) -> QualityReport:
    """Quality of an H×W×3 uint8 RGB crop; ``landmarks`` (5, 2) in crop pixels add a pose term."""
    if crop.size == 0:
        return QualityReport(1.0, 0.0, 0.0, 0.0, None, ("empty",))
    gray = cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2GRAY)
    sharp = sharpness_score(gray)
    exposure, exposure_reason = exposure_score(gray)
    full = FULL_SIZE_FACE if is_face else FULL_SIZE_OBJECT
    size = min(1.0, min(crop.shape[:2]) / full)
    pose = pose_score(landmarks) if landmarks is not None and len(landmarks) >= 3 else None
    parts = {"sharpness": sharp, "exposure": exposure, "size": size}
    weights = dict(WEIGHTS_OBJECT)
    if pose is not None:
        parts["pose"] = pose
        weights = dict(WEIGHTS_FACE)
    total = sum(weights.values())
    combined = sum(parts[k] * w for k, w in weights.items()) / total
    reasons = []
    if sharp < LOW:
        reasons.append("blurry")
    if exposure_reason:
        reasons.append(exposure_reason)
    if size < LOW:
        reasons.append("small")
    if pose is not None and pose < LOW:
        reasons.append("turned away")
    score = round(1.0 + 9.0 * combined, 1)
    return QualityReport(score, round(sharp, 3), round(exposure, 3), round(size, 3), pose, tuple(reasons))
