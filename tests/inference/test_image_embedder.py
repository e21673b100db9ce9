"""The image-embedder interface: vector helpers, input checks and the factory (no weights needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vidpipe.errors import ModelError
from vidpipe.inference.image_embedder import ImageEmbedder, check_images, create_image_embedder
from vidpipe.inference.image_embedders import MobileNetEmbedder, OpenClipEmbedder
from vidpipe.settings import Settings, VisionSettings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # An empty model folder: nothing here loads weights.
    return Settings(model_dir=tmp_path)


def test_check_images_names_the_bad_one() -> None:
    good = np.zeros((4, 5, 3), np.uint8)
    check_images([good, good])
    with pytest.raises(ValueError, match=r"image 1: expected an H×W×3 RGB array, got shape \(4, 5\)"):
        check_images([good, np.zeros((4, 5), np.uint8)])
    with pytest.raises(ValueError, match="image 0: expected dtype uint8, got float32"):
        check_images([good.astype(np.float32)])
    with pytest.raises(ValueError, match="pass a sequence of images"):
        check_images(good)


def test_factory_uses_the_settings_default(settings: Settings) -> None:
    embedder = create_image_embedder(settings=settings)
    assert isinstance(embedder, MobileNetEmbedder)
    assert embedder.name == "mobilenet_v1_embedding"
    assert embedder.same_object_threshold == pytest.approx(0.80)
    assert not embedder.supports_text
    with pytest.raises(ModelError, match="no text tower"):
        embedder.embed_text(["a cat"])


def test_factory_picks_openclip_for_the_immich_layout(tmp_path: Path) -> None:
    settings = Settings(model_dir=tmp_path, vision=VisionSettings(image_embedder="clip_vit_b32_openai"))
    embedder = create_image_embedder(settings=settings)
    assert isinstance(embedder, OpenClipEmbedder)
    assert embedder.supports_text
    assert embedder.same_object_threshold == pytest.approx(0.85)
    assert isinstance(create_image_embedder("mobilenet_v1_embedding", settings), MobileNetEmbedder)


def test_factory_refuses_other_tasks_and_unknown_names(settings: Settings) -> None:
    with pytest.raises(ModelError, match="not an image embedder"):
        create_image_embedder("mobilenet_v2_imagenet", settings)
    with pytest.raises(ModelError, match="unknown model"):
        create_image_embedder("no_such_model", settings)


def test_interface_is_abstract(settings: Settings) -> None:
    with pytest.raises(TypeError):
        ImageEmbedder("mobilenet_v1_embedding", settings=settings)  # type: ignore[abstract]
