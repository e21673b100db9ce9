"""ArcFace-format embedders: a face aligned to the 112×112 template from 5 landmarks.

This fits MobileFaceNet-ArcFace, InsightFace's w600k_r50 and AuraFace: they differ in weights,
not in their input contract.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from vidpipe.domain.detections import Detections
from vidpipe.errors import VidpipeError
from vidpipe.inference.alignment import align_face
from vidpipe.inference.face_embedder import FaceEmbedder, UInt8Image
from vidpipe.inference.preprocess import to_nchw


class ArcFaceEmbedder(FaceEmbedder):
    needs_landmarks: ClassVar[bool] = True

    @property
    def dim(self) -> int:
        return int(self.session.get_outputs()[0].shape[-1])

    def aligned_chips(self, image: UInt8Image, faces: Detections) -> list[UInt8Image]:
        if faces.landmarks is None or faces.landmarks.shape[1] != 5:
            raise VidpipeError(
                f"face embedder {self.name!r} aligns faces by 5 landmarks, but the faces came without them; "
                "use a face detector that gives landmarks (for example scrfd_2.5g_kps)"
            )
        size = self.input_hw((112, 112))[0]
        return [align_face(image, lm, size) for lm in faces.landmarks]

    def _embed(self, image: UInt8Image, faces: Detections) -> np.ndarray[Any, Any]:
        chips = self.aligned_chips(image, faces)
        batch_dim = self.session.get_inputs()[0].shape[0]
        name = self.input_name()
        if isinstance(batch_dim, int) and batch_dim == 1:
            # Fixed batch of 1 in the export: one call per face.
            return np.concatenate([self.run({name: to_nchw(c, mean=127.5, std=127.5)})[0] for c in chips])
        blob = np.concatenate([to_nchw(c, mean=127.5, std=127.5) for c in chips])
        return self.run({name: blob})[0]
