"""Whole-image (or crop) embeddings: the interface, the helpers around vectors, and the factory.

An image embedder maps H×W×3 uint8 RGB arrays (whole frames or object crops) to L2-normalised
float32 rows, so the dot product of two rows is their cosine similarity. Scales differ between
models: compare a score only with the same model's ``same_object_threshold``.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from vidpipe.errors import ModelError
from vidpipe.inference.base import Model
from vidpipe.inference.specs import ModelSpec, Task, get_spec
from vidpipe.inference.vectors import l2_normalise
from vidpipe.settings import Settings, get_settings

FloatArray = npt.NDArray[np.float32]


def check_images(images: Sequence[np.ndarray[Any, Any]]) -> None:
    """Refuse anything but a sequence of H×W×3 uint8 arrays, naming the first bad one."""
    if isinstance(images, np.ndarray) and images.ndim == 3:
        raise ValueError(f"pass a sequence of images (for one image: [image]), got one array of shape {images.shape}")
    for i, image in enumerate(images):
        if not isinstance(image, np.ndarray):
            raise ValueError(f"image {i}: expected a numpy array, got {type(image).__name__}")
        if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] < 1 or image.shape[1] < 1:
            raise ValueError(f"image {i}: expected an H×W×3 RGB array, got shape {image.shape}")
        if image.dtype != np.uint8:
            raise ValueError(f"image {i}: expected dtype uint8, got {image.dtype}")


def static_batch(shape: Sequence[Any]) -> int | None:
    """The fixed batch size of an onnx input shape, or None when the export leaves it dynamic."""
    first = shape[0] if len(shape) else None
    return first if isinstance(first, int) and first > 0 else None


def run_in_batches(
    run: Callable[[dict[str, np.ndarray[Any, Any]]], list[np.ndarray[Any, Any]]],
    input_name: str,
    items: Sequence[Any],
    prepare: Callable[[Any], np.ndarray[Any, Any]],
    *,
    fixed_batch: int | None,
    max_batch: int,
) -> FloatArray:
    """Run ``prepare(item)`` rows through a model in batches; (N, D) float32 rows, not normalised.

    ``fixed_batch`` is the export's fixed batch size (None: dynamic, then ``max_batch`` at a time);
    a short last batch of a fixed-size export is filled with zeros whose rows are dropped. Items
    are prepared one batch at a time, so memory stays bounded for many crops.
    """
    chunk = fixed_batch or max_batch
    rows: list[FloatArray] = []
    for start in range(0, len(items), chunk):
        batch = np.stack([prepare(item) for item in items[start : start + chunk]])
        n = len(batch)
        if fixed_batch is not None and n < fixed_batch:
            batch = np.concatenate([batch, np.zeros((fixed_batch - n, *batch.shape[1:]), batch.dtype)])
        out = run({input_name: np.ascontiguousarray(batch)})[0]
        rows.append(np.asarray(out, np.float32).reshape(len(batch), -1)[:n])
    return np.concatenate(rows)


class ImageEmbedder(Model, ABC):
    """Maps RGB crops or frames to L2-normalised (N, D) float32 rows."""

    task: ClassVar[Task] = Task.IMAGE_EMBEDDING
    # Whether ``embed_text`` works (CLIP-style models with a text tower).
    supports_text: ClassVar[bool] = False
    _dim: int | None = None
    # Largest batch for exports with a dynamic batch dimension.
    max_batch: ClassVar[int] = 32

    @abstractmethod
    def preprocess(self, image: np.ndarray[Any, Any]) -> FloatArray:
        """One H×W×3 uint8 RGB image as the C×H×W float32 array the model takes."""

    def embed(self, images: Sequence[np.ndarray[Any, Any]]) -> FloatArray:
        """(N, D) float32 unit rows for N H×W×3 uint8 RGB images; (0, D) for none."""
        check_images(images)
        if len(images) == 0:
            return np.zeros((0, self.dim), np.float32)
        rows = run_in_batches(
            self.run,
            self.input_name(),
            images,
            self.preprocess,
            fixed_batch=static_batch(self.session.get_inputs()[0].shape),
            max_batch=self.max_batch,
        )
        return l2_normalise(rows)

    def embed_one(self, image: np.ndarray[Any, Any]) -> FloatArray:
        """The (D,) unit vector of one image."""
        out: FloatArray = self.embed([image])[0]
        return out

    def embed_text(self, texts: Sequence[str]) -> FloatArray:
        """(N, D) unit rows for texts, in the same space as images; only where ``supports_text``."""
        raise ModelError(f"model {self.name!r} has no text tower; text search needs a CLIP-style model")

    @property
    def dim(self) -> int:
        """Length D of each embedding, from the model's output shape (one dry run if it is dynamic)."""
        if self._dim is None:
            self._dim = self._output_dim()
        return self._dim

    def _output_dim(self) -> int:
        shape = self.session.get_outputs()[0].shape
        dims = list(shape[1:])
        if dims and all(isinstance(d, int) and d > 0 for d in dims):
            return int(np.prod(dims))
        return int(self.embed([np.zeros((8, 8, 3), np.uint8)]).shape[1])

    @property
    def same_object_threshold(self) -> float:
        """Cosine similarity at or above which two crops show the same object, for this model."""
        return self.spec.threshold("same_object")

    def _run_session(self, session: Any, feeds: dict[str, np.ndarray[Any, Any]]) -> list[np.ndarray[Any, Any]]:
        """``Model.run`` for a session other than the main one (a second tower), timed the same way."""
        start = time.perf_counter()
        outputs: list[np.ndarray[Any, Any]] = session.run(None, feeds)
        self.seconds += time.perf_counter() - start
        self.calls += 1
        return outputs


def _implementation(spec: ModelSpec) -> type[ImageEmbedder]:
    # Imported here: the implementations import this module for the base class.
    from vidpipe.inference.image_embedders.mobilenet import MobileNetEmbedder
    from vidpipe.inference.image_embedders.openclip import OpenClipEmbedder

    names = {f.name.rsplit("/", 1)[-1] for f in spec.files}
    if {"visual.onnx", "textual.onnx"} <= names:
        return OpenClipEmbedder  # any OpenCLIP export in the immich layout
    if spec.name.startswith("mobilenet") and spec.backend == "onnx":
        return MobileNetEmbedder
    raise ModelError(f"no image embedder implementation handles model {spec.name!r} ({spec.source})")


def create_image_embedder(name: str | None = None, settings: Settings | None = None) -> ImageEmbedder:
    """The image embedder for model ``name`` (default: ``settings.vision.image_embedder``)."""
    settings = settings or get_settings()
    spec = get_spec(name or settings.vision.image_embedder)
    if spec.task != Task.IMAGE_EMBEDDING:
        raise ModelError(f"model {spec.name!r} is a {spec.task.value} model, not an image embedder")
    return _implementation(spec)(spec, settings=settings)
