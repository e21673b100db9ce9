"""Which models the default settings use: what `vidpipe models pull --defaults` fetches and what
`vidpipe doctor` checks before the main job can run."""

from __future__ import annotations

from vidpipe.inference.classifier import ImageNetClassifier
from vidpipe.inference.specs import ModelSpec, get_spec
from vidpipe.settings import Settings


def default_models(settings: Settings) -> list[ModelSpec]:
    """The object and face detectors, the face and image embedders the settings name, and the
    ImageNet classifier the offline describer uses for labels; each once, in that order."""
    vision = settings.vision
    names = [
        vision.object_detector,
        vision.face_detector,
        vision.face_embedder,
        vision.image_embedder,
        ImageNetClassifier.default_model,
    ]
    return [get_spec(name) for name in dict.fromkeys(names)]


def load_model(spec: ModelSpec, settings: Settings) -> None:
    """Load the model as a run would (its adapter, its runtime), raising whatever stops it."""
    from vidpipe.inference.base import Model
    from vidpipe.inference.face_detector import create_face_detector
    from vidpipe.inference.face_embedder import create_face_embedder
    from vidpipe.inference.image_embedder import create_image_embedder
    from vidpipe.inference.object_detector import create_object_detector
    from vidpipe.inference.specs import Task

    model: Model
    if spec.task is Task.OBJECT_DETECTION:
        model = create_object_detector(spec.name, settings=settings)
    elif spec.task is Task.FACE_DETECTION:
        model = create_face_detector(spec.name, settings=settings)
    elif spec.task is Task.FACE_EMBEDDING:
        model = create_face_embedder(spec.name, settings=settings)
    elif spec.task is Task.IMAGE_EMBEDDING:
        model = create_image_embedder(spec.name, settings=settings)
    else:
        model = ImageNetClassifier(spec, settings=settings)
    model.ensure_loaded()
