"""MobileNet v1 embeddings on the real weights and real photos."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import pytest

from vidpipe.inference.image_embedder import create_image_embedder
from vidpipe.inference.image_embedders.mobilenet import MobileNetEmbedder, fit_square
from vidpipe.inference.vectors import cosine_similarity
from vidpipe.settings import Settings


@pytest.fixture(scope="module")
def embedder(settings: Settings) -> MobileNetEmbedder:
    return MobileNetEmbedder(settings=settings)


def altered(image: np.ndarray) -> np.ndarray:
    """The same picture, 80 % the size and brighter."""
    h, w = image.shape[:2]
    small = cv2.resize(image, (int(w * 0.8), int(h * 0.8)), interpolation=cv2.INTER_AREA)
    return np.clip(small.astype(np.float32) * 1.15 + 10, 0, 255).astype(np.uint8)


def test_fit_square_squashes_up_to_4_3_and_pads_beyond() -> None:
    wide = np.full((100, 120, 3), 255, np.uint8)  # 6:5, squashed, no padding
    assert (fit_square(wide, (224, 224)) == 255).all()
    long = np.full((50, 400, 3), 255, np.uint8)  # 8:1, padded to 4:3 (300 high) then squashed
    out = fit_square(long, (224, 224))
    assert out.shape == (224, 224, 3)
    assert (out[0] == 128).all() and (out[-1] == 128).all()
    assert (out[112] == 255).all()
    rows = np.flatnonzero((out[:, 0] == 255).all(axis=1))
    assert 35 <= len(rows) <= 40  # 50 of 300 rows, scaled to 224
    assert fit_square(long.transpose(1, 0, 2), (224, 224)).shape == (224, 224, 3)


@pytest.mark.models
def test_embeddings_are_unit_rows_of_1024(embedder: MobileNetEmbedder, photo: Callable[[str], np.ndarray]) -> None:
    images = [photo("chelsea.png"), photo("coffee.png"), photo("astronaut.png")]
    vectors = embedder.embed(images)
    assert vectors.shape == (3, 1024)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.dim == 1024
    # The export's batch is fixed at 1: three images, three runs, same rows as one at a time.
    np.testing.assert_allclose(embedder.embed([images[1]])[0], vectors[1], atol=1e-6)
    np.testing.assert_allclose(embedder.embed_one(images[2]), vectors[2], atol=1e-6)


@pytest.mark.models
def test_same_picture_is_closer_than_different_pictures(
    embedder: MobileNetEmbedder, photo: Callable[[str], np.ndarray]
) -> None:
    cat, coffee, astronaut = photo("chelsea.png"), photo("coffee.png"), photo("astronaut.png")
    vectors = embedder.embed([cat, altered(cat), coffee, astronaut, altered(coffee)])
    sims = cosine_similarity(vectors, vectors)
    same_cat, same_coffee = sims[0, 1], sims[2, 4]
    different = max(sims[0, 2], sims[0, 3], sims[2, 3], sims[1, 2], sims[1, 3])
    assert same_cat > different + 0.2
    assert same_coffee > different + 0.2
    threshold = embedder.same_object_threshold
    assert same_cat >= threshold and same_coffee >= threshold
    assert different < threshold


@pytest.mark.models
def test_small_and_elongated_crops(embedder: MobileNetEmbedder, photo: Callable[[str], np.ndarray]) -> None:
    cat = photo("chelsea.png")
    crops = [cat[100:110, 100:112], cat[:, 200:230], cat[150:170, :]]
    vectors = embedder.embed(crops)
    assert vectors.shape == (3, 1024)
    assert np.isfinite(vectors).all()
    assert embedder.embed([]).shape == (0, 1024)


@pytest.mark.models
def test_factory_builds_it_from_settings(settings: Settings, photo: Callable[[str], np.ndarray]) -> None:
    embedder = create_image_embedder(settings=settings)
    assert isinstance(embedder, MobileNetEmbedder)
    assert embedder.embed([photo("coffee.png")]).shape == (1, 1024)
