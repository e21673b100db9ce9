"""ImageNet labels for a whole image or a crop: finer names than COCO's 80 (espresso, tabby, missile)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from vidpipe.errors import ModelError
from vidpipe.inference.base import Model
from vidpipe.inference.image_embedder import check_images
from vidpipe.inference.image_embedders.mobilenet import fit_square
from vidpipe.inference.preprocess import UInt8Image
from vidpipe.inference.sessions import get_session
from vidpipe.inference.specs import Task
from vidpipe.settings import Settings


class ImageNetClassifier(Model):
    """Top-k ImageNet-1k classes of an H×W×3 uint8 RGB image.

    Spec ``mobilenet_v2_imagenet``: ``input`` [1,3,224,224] RGB (x-128)/128; softmax [1,1001] whose
    index 0 is "background" (never returned). Labels come from the spec's second file, one a line,
    returned as written there (for example "tabby, tabby cat": the first name, then synonyms).
    The image is fitted to the input as for the MobileNet embedder: squashed up to a 4:3 aspect
    ratio, padded beyond it (see ``fit_square``), so crops of long objects keep their ends.
    """

    @classmethod
    def if_present(cls, settings: Settings | None = None) -> ImageNetClassifier | None:
        """The classifier when its weights are in the model folder, else None: labels beyond COCO
        enrich descriptions but are never required."""
        classifier = cls(settings=settings)
        return classifier if classifier.store.is_present(classifier.spec) else None

    task: ClassVar[Task] = Task.IMAGE_CLASSIFICATION
    default_model: ClassVar[str] = "mobilenet_v2_imagenet"

    _labels: tuple[str, ...] = ()

    def _load(self) -> Any:
        session = get_session(self.model_path(0), self.settings.runtime)
        if len(self.spec.files) < 2:
            raise ModelError(f"model {self.name!r}: a classifier needs a labels file as its second file")
        path = self.model_path(1)
        labels = tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
        classes = session.get_outputs()[0].shape[-1]
        if isinstance(classes, int) and classes != len(labels):
            raise ModelError(
                f"model {self.name!r}: {str(path)!r} has {len(labels)} labels, the model outputs {classes} classes"
            )
        self._labels = labels
        return session

    @property
    def labels(self) -> tuple[str, ...]:
        """All class labels, index 0 ("background") included."""
        self.ensure_loaded()
        return self._labels

    @property
    def default_confidence(self) -> float:
        """The spec's suggested minimum probability for trusting a label."""
        return self.spec.threshold("confidence")

    def probabilities(self, image: UInt8Image) -> np.ndarray[Any, np.dtype[np.float32]]:
        """The (classes,) softmax output for one image, background at index 0."""
        check_images([image])
        square = fit_square(image, self.input_hw((224, 224)))
        batch = ((square.astype(np.float32) - 128.0) / 128.0).transpose(2, 0, 1)[None]
        out = self.run({self.input_name(): np.ascontiguousarray(batch)})[0]
        probs: np.ndarray[Any, np.dtype[np.float32]] = np.asarray(out, np.float32).reshape(-1)
        return probs

    def classify(self, image: UInt8Image, top_k: int = 5, min_score: float = 0.0) -> list[tuple[str, float]]:
        """The ``top_k`` most probable (label, probability) pairs, best first, without background."""
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}")
        probs = self.probabilities(image)
        labels = self._labels
        scores = probs[1:]  # index 0 is "background"
        order = np.argsort(-scores, kind="stable")[:top_k]
        return [(labels[i + 1], float(scores[i])) for i in order if scores[i] >= min_score]
