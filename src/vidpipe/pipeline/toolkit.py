"""The models a manifesting run needs, created once and shared by every photo of the run."""

from __future__ import annotations

from dataclasses import dataclass, field

from vidpipe.inference.classifier import ImageNetClassifier
from vidpipe.inference.face_analysis import FaceAnalyzer
from vidpipe.inference.image_embedder import ImageEmbedder, create_image_embedder
from vidpipe.inference.object_detector import ObjectDetector, create_object_detector
from vidpipe.settings import Settings, get_settings


@dataclass
class VisionToolkit:
    detector: ObjectDetector
    faces: FaceAnalyzer
    embedder: ImageEmbedder
    classifier: ImageNetClassifier | None
    settings: Settings = field(default_factory=get_settings)

    @classmethod
    def create(cls, settings: Settings | None = None) -> VisionToolkit:
        """The default models from the settings; the ImageNet classifier only if its files are present."""
        settings = settings or get_settings()
        return cls(
            detector=create_object_detector(settings=settings),
            faces=FaceAnalyzer(settings=settings),
            embedder=create_image_embedder(settings=settings),
            classifier=ImageNetClassifier.if_present(settings),
            settings=settings,
        )
