"""ImageNet classification with the real MobileNet v2 weights on real photos."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from vidpipe.errors import ModelError
from vidpipe.inference.classifier import ImageNetClassifier
from vidpipe.settings import Settings

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def classifier(settings: Settings) -> ImageNetClassifier:
    return ImageNetClassifier(settings=settings)


def names(top: list[tuple[str, float]]) -> set[str]:
    # "tabby, tabby cat" -> "tabby": the first name of each label line.
    return {label.split(",")[0] for label, _ in top}


def test_coffee_is_espresso_or_cup(classifier: ImageNetClassifier, photo: Callable[[str], np.ndarray]) -> None:
    top = classifier.classify(photo("coffee.png"), top_k=5)
    assert len(top) == 5
    assert names(top) & {"espresso", "cup"}, top


def test_cat_is_a_cat(classifier: ImageNetClassifier, photo: Callable[[str], np.ndarray]) -> None:
    top = classifier.classify(photo("chelsea.png"), top_k=5)
    assert names(top) & {"tabby", "tiger cat", "Egyptian cat"}, top
    assert top[0][1] > classifier.default_confidence


def test_scores_sorted_without_background(classifier: ImageNetClassifier, photo: Callable[[str], np.ndarray]) -> None:
    labels = classifier.labels
    assert len(labels) == 1001 and labels[0] == "background"
    top = classifier.classify(photo("astronaut.png"), top_k=1000)
    assert len(top) == 1000
    assert "background" not in names(top)
    scores = [s for _, s in top]
    assert scores == sorted(scores, reverse=True)
    assert scores[-1] >= 0.0 and scores[0] <= 1.0
    assert classifier.classify(photo("astronaut.png"), top_k=5, min_score=1.01) == []
    with pytest.raises(ValueError, match="top_k"):
        classifier.classify(photo("astronaut.png"), top_k=0)


def test_wrong_task_is_refused(settings: Settings) -> None:
    with pytest.raises(ModelError, match="image-embedding model"):
        ImageNetClassifier("mobilenet_v1_embedding", settings=settings)
