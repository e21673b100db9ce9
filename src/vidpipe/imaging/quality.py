"""Crop quality from 1 to 10: sharpness, exposure, size and, for faces, pose.

The score ranks reference crops ("which view of this person is best?") and gates new ones; the
components (each 0..1) explain it, and ``reasons`` names the ones that scored low, so a user can see
why a crop scored as it did.

Calibration (real photos from ``../shared/data``; Laplacian variance of the grayscale crop at a
shorter side of at most 256 px; percentiles 10/50/90):

=====================================  ==============  ==============  =============
set                                    as it is        Gaussian σ=1    σ=2
=====================================  ==============  ==============  =============
49 object photos (skimage, VOC)        376/1249/3119   48/169/359      11/27/56
66 face chips (dlib 150 px, aligned)   39/150/873      14/23/71        5/7/12
43 faces boxed in VOC photos (~40 px)  364/1055/2179   32/65/110       6/9/14
=====================================  ==============  ==============  =============

Faces have far less fine detail than objects (skin is smooth), so they get their own, smaller scale:
with 1 - exp(-variance / k), k = 120 for objects and 80 for faces, nine in ten sharp object photos
score at least 0.96 and the median face chip 0.85; their σ=2 copies score 0.20 and 0.08 at the median.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

# Sharpness is measured with the shorter side brought down to this many pixels (never up): see
# sharpness_score for why.
SHARPNESS_SIDE = 256
# Laplacian variance at which sharpness reaches 1 - 1/e (0.63); see the table in the module docstring.
SHARPNESS_SCALE = 120.0
SHARPNESS_SCALE_FACE = 80.0

# Mean luminance (0..1) of the crop's centre: full marks between the two inner values, falling
# linearly to 0 at the outer ones. Well-exposed real photos measure 0.24-0.67 whole; the same photos
# at ×0.5 brightness 0.12-0.33, at ×0.1 0.01-0.07.
EXPOSURE_ZERO_DARK, EXPOSURE_OK_DARK = 0.03, 0.25
EXPOSURE_OK_BRIGHT, EXPOSURE_ZERO_BRIGHT = 0.72, 0.95
# Clipped pixels (gray < 5 or > 250) in the centre: free up to the first share (specular highlights,
# black hair), exposure 0 at the second.
CLIP_DARK, CLIP_BRIGHT = 5, 250
CLIP_FREE, CLIP_ZERO = 0.10, 0.60
# Exposure statistics come from the middle 60 % of the width and height: the subject sits in the
# middle of a crop, and its background (a white seamless, a black stage) may clip without harm.
CENTRE = 0.6

# Shorter side (pixels) at which size reaches full marks, linear below: ArcFace and dlib work at
# 112-150 px, object embedders at 224 px.
FULL_SIZE_FACE = 112
FULL_SIZE_OBJECT = 224

# Pose: yaw 0 (nose tip midway between the eyes) .. 1 (nose tip level with an eye: profile) costs
# its own share; roll costs up to half, reached at ROLL_LIMIT degrees. With dlib's 68-point
# landmarks on the 43 VOC faces the yaw index runs 0.01-1.1 and follows the jaw's asymmetry.
ROLL_LIMIT = 45.0
ROLL_WEIGHT = 0.5

# The score is 1 + 9 × the weighted geometric mean of the components. Geometric, not arithmetic: a
# reference is only as useful as its worst flaw, and a blank or fully blurred crop must score near 1
# however well exposed and large it is (an arithmetic mean gave a plain grey square 6/10).
# Sharpness weighs most: blur is the one flaw that nothing downstream can undo. Without landmarks
# the object weights apply. Components are floored at COMPONENT_FLOOR so the logarithm is defined.
WEIGHTS_FACE = {"sharpness": 0.35, "exposure": 0.2, "size": 0.2, "pose": 0.25}
WEIGHTS_OBJECT = {"sharpness": 0.45, "exposure": 0.25, "size": 0.3}
LOW = 0.5  # a component below this is named in the reasons
COMPONENT_FLOOR = 1e-3


@dataclass(frozen=True)
class QualityReport:
    score: float  # 1.0 .. 10.0, one decimal
    sharpness: float  # each component 0 .. 1
    exposure: float
    size: float
    pose: float | None  # None without landmarks
    reasons: tuple[str, ...]  # "blurry", "underexposed", "overexposed", "small", "turned away", "empty"


def _gray(crop: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    if crop.dtype != np.uint8:
        raise ValueError(f"crop must be uint8 RGB, got dtype {crop.dtype}")
    if crop.ndim == 3 and crop.shape[2] == 1:
        crop = crop[:, :, 0]
    if crop.ndim == 2:
        return np.ascontiguousarray(crop)
    if crop.ndim == 3 and crop.shape[2] in (3, 4):
        if crop.size == 0:
            return np.zeros(crop.shape[:2], np.uint8)
        return cv2.cvtColor(np.ascontiguousarray(crop[:, :, :3]), cv2.COLOR_RGB2GRAY)
    raise ValueError(f"crop must have shape (H, W, 3), got {crop.shape}")


def sharpness_score(gray: np.ndarray[Any, Any], *, scale: float = SHARPNESS_SCALE) -> float:
    """Variance of the Laplacian at a normalised size, mapped to 0..1 by 1 - exp(-variance / scale).

    A crop larger than SHARPNESS_SIDE is shrunk to it first, so a big crop is not called sharp just
    for having more pixels, and blur that vanishes at the size the crop will be used at (embedders
    take 112-224 px) does not count. A smaller crop is measured as it is: enlarging it would measure
    the interpolation, calling every small crop blurry, and smallness is the size component's job.
    """
    h, w = gray.shape[:2]
    if min(h, w) < 3:
        return 0.0
    factor = SHARPNESS_SIDE / min(h, w)
    if factor < 1:
        size = (max(1, round(w * factor)), max(1, round(h * factor)))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    variance = float(cv2.Laplacian(gray, cv2.CV_64F).var())
    return float(1.0 - math.exp(-variance / scale))


def _centre(gray: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    h, w = gray.shape[:2]
    ch, cw = max(1, round(h * CENTRE)), max(1, round(w * CENTRE))
    top, left = (h - ch) // 2, (w - cw) // 2
    return gray[top : top + ch, left : left + cw]


def _ramp(x: float, zero: float, full: float) -> float:
    """0 at ``zero``, 1 at ``full``, linear between and clamped outside (either direction)."""
    return min(1.0, max(0.0, (x - zero) / (full - zero)))


def exposure_score(gray: np.ndarray[Any, Any]) -> tuple[float, str | None]:
    """1 for a well-exposed crop; lower for a mean far from mid-grey or many clipped pixels.

    Returns the score and, when it is low, "underexposed" or "overexposed".
    """
    centre = _centre(gray)
    mean = float(centre.mean()) / 255.0
    dark = float((centre < CLIP_DARK).mean())
    bright = float((centre > CLIP_BRIGHT).mean())
    if mean < EXPOSURE_OK_DARK:
        level = _ramp(mean, EXPOSURE_ZERO_DARK, EXPOSURE_OK_DARK)
    else:
        level = _ramp(mean, EXPOSURE_ZERO_BRIGHT, EXPOSURE_OK_BRIGHT)
    clipping = 1.0 - _ramp(dark + bright, CLIP_FREE, CLIP_ZERO)
    score = level * clipping
    reason = None
    if score < LOW:
        too_dark = mean < 0.5 if level < 1.0 else dark >= bright
        reason = "underexposed" if too_dark else "overexposed"
    return score, reason


def pose_score(landmarks: np.ndarray[Any, Any]) -> float:
    """1 for a frontal, level face; toward 0 as it turns (yaw) or tilts (roll).

    ``landmarks``: left eye, right eye, nose tip (further points are ignored). Yaw from where the
    nose tip sits along the eye line (midway when frontal, at an eye in profile); roll from the
    angle of the eye line. Eyes on top of each other or non-finite points give 0.
    """
    points = np.asarray(landmarks, np.float64)
    if points.ndim != 2 or points.shape[0] < 3 or points.shape[1] != 2:
        raise ValueError(f"landmarks must have shape (5, 2), got {points.shape}")
    left_eye, right_eye, nose = points[0], points[1], points[2]
    if not np.isfinite(points[:3]).all():
        return 0.0
    eye_vec = right_eye - left_eye
    eye_dist = float(np.linalg.norm(eye_vec))
    if eye_dist < 1e-6:
        return 0.0
    along = float(np.dot(nose - left_eye, eye_vec) / eye_dist**2)  # 0.5 when frontal
    yaw = min(1.0, abs(along - 0.5) * 2.0)
    roll = abs(math.degrees(math.atan2(float(eye_vec[1]), float(eye_vec[0]))))
    roll_penalty = min(1.0, roll / ROLL_LIMIT)
    return float(max(0.0, (1.0 - yaw) * (1.0 - ROLL_WEIGHT * roll_penalty)))


def size_score(side: int, *, is_face: bool) -> float:
    """The shorter side over the full-marks side (112 px for faces, 224 for objects), capped at 1."""
    return min(1.0, side / (FULL_SIZE_FACE if is_face else FULL_SIZE_OBJECT))


def assess_crop(
    crop: np.ndarray[Any, Any], *, landmarks: np.ndarray[Any, Any] | None = None, is_face: bool = False
) -> QualityReport:
    """Quality of an H×W×3 uint8 RGB crop; ``landmarks`` (5, 2) in crop pixels add a pose term.

    Gray (H×W) and RGBA crops are accepted too. An empty crop scores 1.0 with the reason "empty".
    """
    gray = _gray(crop)
    if gray.size == 0:
        return QualityReport(1.0, 0.0, 0.0, 0.0, None, ("empty",))
    sharp = sharpness_score(gray, scale=SHARPNESS_SCALE_FACE if is_face else SHARPNESS_SCALE)
    exposure, exposure_reason = exposure_score(gray)
    size = size_score(min(gray.shape[:2]), is_face=is_face)
    pose = pose_score(landmarks) if landmarks is not None else None
    parts = {"sharpness": sharp, "exposure": exposure, "size": size}
    weights = WEIGHTS_OBJECT
    if pose is not None:
        parts["pose"] = pose
        weights = WEIGHTS_FACE
    combined = math.exp(
        sum(math.log(max(COMPONENT_FLOOR, parts[k])) * w for k, w in weights.items()) / sum(weights.values())
    )
    reasons = []
    if sharp < LOW:
        reasons.append("blurry")
    if exposure_reason:
        reasons.append(exposure_reason)
    if size < LOW:
        reasons.append("small")
    if pose is not None and pose < LOW:
        reasons.append("turned away")
    score = min(10.0, max(1.0, round(1.0 + 9.0 * combined, 1)))
    return QualityReport(
        score=score,
        sharpness=round(sharp, 3),
        exposure=round(exposure, 3),
        size=round(size, 3),
        pose=None if pose is None else round(pose, 3),
        reasons=tuple(reasons),
    )
