"""dlib's ResNet face descriptor (CC0 weights): the licence-clean offline face identity path.

dlib finds its own 5 landmarks inside each face box and aligns a 150×150 chip from them, so it
works with any face detector, landmarks or not.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from vidpipe.domain.detections import Detections
from vidpipe.errors import VidpipeError
from vidpipe.inference.face_embedder import FaceEmbedder, UInt8Image

try:
    import dlib
except ImportError:  # optional dependency: the registry still lists the model, running it explains
    dlib = None


class DlibResnetEmbedder(FaceEmbedder):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # dlib's networks keep scratch buffers inside the object: one caller at a time.
        self._run_lock = threading.Lock()

    @property
    def dim(self) -> int:
        return 128

    def _load(self) -> tuple[Any, Any]:
        if dlib is None:
            raise VidpipeError(f"face embedder {self.name!r} needs dlib; install it with `pip install 'vidpipe[dlib]'`")
        net_path, predictor_path = self.store.paths(self.spec)
        return dlib.face_recognition_model_v1(str(net_path)), dlib.shape_predictor(str(predictor_path))

    def landmarks(self, image: UInt8Image, faces: Detections) -> list[Any]:
        """dlib's 5-point shapes for each face box."""
        _, predictor = self.ensure_loaded()
        return [
            predictor(image, dlib.rectangle(int(x1), int(y1), int(x2), int(y2)))
            for x1, y1, x2, y2 in faces.xyxy.tolist()
        ]

    def _embed(self, image: UInt8Image, faces: Detections) -> np.ndarray[Any, Any]:
        import time

        net, _ = self.ensure_loaded()
        image = np.ascontiguousarray(image)
        with self._run_lock:
            start = time.perf_counter()
            shapes = dlib.full_object_detections()
            for shape in self.landmarks(image, faces):
                shapes.append(shape)
            descriptors = net.compute_face_descriptor(image, shapes)
            self.seconds += time.perf_counter() - start
            self.calls += 1
        return np.asarray([np.asarray(d) for d in descriptors], np.float32)
