"""Face identity embeddings: faces found in an image in, one L2-normalised vector per face out."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar

import numpy as np

from vidpipe.domain.detections import Detections, FloatArray
from vidpipe.inference.base import Model
from vidpipe.inference.specs import Task
from vidpipe.inference.vectors import l2_normalise
from vidpipe.settings import Settings

UInt8Image = np.ndarray[Any, np.dtype[np.uint8]]


class FaceEmbedder(Model):
    """Subclasses implement ``_embed``. Similarities are cosine; each model has its own threshold."""

    task: ClassVar[Task] = Task.FACE_EMBEDDING
    default_model: ClassVar[str] = "dlib_resnet_v1"
    needs_landmarks: ClassVar[bool] = False

    def embed(self, image: UInt8Image, faces: Detections) -> FloatArray:
        """(N, D) float32 unit vectors for the N faces of an H×W×3 uint8 RGB image."""
        if len(faces) == 0:
            return np.zeros((0, self.dim), np.float32)
        return l2_normalise(self._embed(image, faces))

    @property
    def same_person_threshold(self) -> float:
        """Cosine similarity at or above which two faces count as the same person, for this model."""
        return self.spec.threshold("same_person")

    @property
    @abstractmethod
    def dim(self) -> int:
        """Length of one embedding."""

    @abstractmethod
    def _embed(self, image: UInt8Image, faces: Detections) -> np.ndarray[Any, Any]:
        """Raw (N, D) embeddings, normalised by ``embed``."""


def create_face_embedder(model: str | None = None, *, settings: Settings | None = None) -> FaceEmbedder:
    """The face embedder registered under ``model`` (default: the settings' face embedder)."""
    from vidpipe.inference.face_embedders.arcface import ArcFaceEmbedder
    from vidpipe.inference.face_embedders.dlib_resnet import DlibResnetEmbedder
    from vidpipe.inference.specs import get_spec
    from vidpipe.settings import get_settings

    settings = settings or get_settings()
    spec = get_spec(model or settings.vision.face_embedder)
    if spec.backend == "dlib":
        return DlibResnetEmbedder(spec, settings=settings)
    return ArcFaceEmbedder(spec, settings=settings)
