"""Faces of one photo, end to end: detection, identity embedding and crop quality."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vidpipe.domain.detections import Detections, FloatArray
from vidpipe.imaging.quality import QualityReport, assess_crop
from vidpipe.inference.face_detector import FaceDetector, create_face_detector
from vidpipe.inference.face_embedder import FaceEmbedder, create_face_embedder
from vidpipe.inference.grouping import FaceGroup, FaceItem, group_faces
from vidpipe.settings import Settings, get_settings

UInt8Image = np.ndarray[Any, np.dtype[np.uint8]]


@dataclass(frozen=True)
class Face:
    """One face: where it is in its photo, who it looks like (embedding) and how usable the crop is."""

    key: str  # "<photo>#<index>", unique across a run
    photo: str
    index: int
    box: tuple[float, float, float, float]
    confidence: float
    landmarks: FloatArray | None
    embedding: FloatArray
    quality: QualityReport

    def as_item(self) -> FaceItem:
        return FaceItem(key=self.key, photo=self.photo, embedding=self.embedding, quality=self.quality.score)


def face_crop(image: UInt8Image, box: Sequence[float], padding: float = 0.3) -> tuple[UInt8Image, tuple[int, int]]:
    """The face box grown by ``padding`` of its size on each side, clipped to the image; and its origin."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = box
    px, py = (x2 - x1) * padding, (y2 - y1) * padding
    left, top = max(0, int(x1 - px)), max(0, int(y1 - py))
    right, bottom = min(w, int(np.ceil(x2 + px))), min(h, int(np.ceil(y2 + py)))
    return image[top:bottom, left:right], (left, top)


# COCO classes whose faces small face detectors mistake for human ones (UltraFace scores a cat at 0.97).
ANIMALS = frozenset(
    {"bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "teddy bear"}
)


def drop_animal_faces(faces: Detections, objects: Detections) -> Detections:
    """Faces whose centre lies inside an animal's box and inside no person's box are removed."""
    if len(faces) == 0 or len(objects) == 0:
        return faces
    names = objects.names
    animals = objects.xyxy[[i for i, n in enumerate(names) if n in ANIMALS]]
    people = objects.xyxy[[i for i, n in enumerate(names) if n == "person"]]
    if len(animals) == 0:
        return faces
    centres = (faces.xyxy[:, :2] + faces.xyxy[:, 2:]) / 2

    def inside(boxes: FloatArray) -> np.ndarray[Any, np.dtype[np.bool_]]:
        if len(boxes) == 0:
            return np.zeros(len(centres), bool)
        within = (
            (centres[:, None, 0] >= boxes[None, :, 0])
            & (centres[:, None, 0] <= boxes[None, :, 2])
            & (centres[:, None, 1] >= boxes[None, :, 1])
            & (centres[:, None, 1] <= boxes[None, :, 3])
        )
        return np.asarray(within.any(axis=1), dtype=np.bool_)

    return faces[~(inside(animals) & ~inside(people))]


def people_without_faces(objects: Detections, faces: Detections, min_side: float = 48.0) -> int:
    """How many detected people (at least ``min_side`` pixels) have no face centre inside their box.

    Such people are the ones a tiled, higher-resolution face search may still find.
    """
    people = objects[[i for i, n in enumerate(objects.names) if n == "person"]]
    if len(people) == 0:
        return 0
    sides = np.minimum(people.xyxy[:, 2] - people.xyxy[:, 0], people.xyxy[:, 3] - people.xyxy[:, 1])
    people = people[sides >= min_side]
    if len(faces) == 0:
        return len(people)
    centres = (faces.xyxy[:, :2] + faces.xyxy[:, 2:]) / 2
    inside = (
        (centres[None, :, 0] >= people.xyxy[:, None, 0])
        & (centres[None, :, 0] <= people.xyxy[:, None, 2])
        & (centres[None, :, 1] >= people.xyxy[:, None, 1])
        & (centres[None, :, 1] <= people.xyxy[:, None, 3])
    )
    return int((~inside.any(axis=1)).sum())


class FaceAnalyzer:
    """Detector + embedder pair, loaded once and reused for every photo."""

    def __init__(
        self,
        detector: FaceDetector | str | None = None,
        embedder: FaceEmbedder | str | None = None,
        *,
        settings: Settings | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.detector = (
            detector if isinstance(detector, FaceDetector) else create_face_detector(detector, settings=self.settings)
        )
        self.embedder = (
            embedder if isinstance(embedder, FaceEmbedder) else create_face_embedder(embedder, settings=self.settings)
        )

    @property
    def threshold(self) -> float:
        return self.embedder.same_person_threshold

    def detect(self, image: UInt8Image, objects: Detections | None = None) -> Detections:
        """Faces in an image. Given the image's object detections, the costly tiled search for small
        faces runs only when a detected person has no face yet; animal faces are dropped."""
        if objects is None:
            return self.detector.detect(image)
        found = self.detector.detect(image, tiling=False)
        if self.detector.tiling and people_without_faces(objects, found):
            found = self.detector.detect(image, tiling=True)
        return drop_animal_faces(found, objects)

    def analyze(self, image: UInt8Image, photo: str, faces: Detections | None = None) -> list[Face]:
        """Every face in ``image`` (an H×W×3 uint8 RGB array) named after ``photo``."""
        found = self.detector.detect(image) if faces is None else faces
        if len(found) == 0:
            return []
        embeddings = self.embedder.embed(image, found)
        result = []
        for i in range(len(found)):
            box = tuple(float(v) for v in found.xyxy[i])
            crop, (ox, oy) = face_crop(image, box, padding=0.0)
            landmarks = None if found.landmarks is None else found.landmarks[i]
            local = None if landmarks is None else landmarks - np.asarray([ox, oy], np.float32)
            result.append(
                Face(
                    key=f"{photo}#{i}",
                    photo=photo,
                    index=i,
                    box=(box[0], box[1], box[2], box[3]),
                    confidence=float(found.confidence[i]),
                    landmarks=landmarks,
                    embedding=embeddings[i],
                    quality=assess_crop(crop, landmarks=local, is_face=True),
                )
            )
        return result

    def group(
        self,
        faces: Sequence[Face],
        *,
        same: Sequence[tuple[str, str]] = (),
        different: Sequence[tuple[str, str]] = (),
        threshold: float | None = None,
    ) -> list[FaceGroup]:
        """People among ``faces``, with the embedder's own same-person threshold unless one is given."""
        return group_faces(
            [f.as_item() for f in faces],
            self.threshold if threshold is None else threshold,
            same=same,
            different=different,
        )
