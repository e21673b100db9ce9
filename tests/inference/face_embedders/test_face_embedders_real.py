"""Face identity on real photos: same person above the model's threshold, different people below."""

from pathlib import Path

import numpy as np
import pytest

from vidpipe.errors import VidpipeError
from vidpipe.imaging.loading import load_image
from vidpipe.inference.face_detector import create_face_detector
from vidpipe.inference.face_embedder import create_face_embedder
from vidpipe.inference.vectors import embedding_from_bytes, embedding_to_bytes
from vidpipe.settings import Settings

pytestmark = [pytest.mark.models, pytest.mark.data]
PAIRS = [
    ("scrfd_2.5g_kps", "mobilefacenet_arcface"),
    ("scrfd_2.5g_kps", "dlib_resnet_v1"),
    ("ultraface_rfb_320", "dlib_resnet_v1"),
]


def _embed_one(settings: Settings, detector: str, embedder: str, path: Path) -> np.ndarray:
    image = load_image(path)
    faces = create_face_detector(detector, settings=settings).detect(image)
    best = faces[int(np.argmax(faces.area))]
    return create_face_embedder(embedder, settings=settings).embed(image, best)[0]


@pytest.mark.parametrize(("detector", "embedder"), PAIRS)
def test_same_person_and_different_people(settings: Settings, data_dir: Path, detector: str, embedder: str) -> None:
    pytest.importorskip("dlib")
    folder = data_dir / "faces/face_recognition"
    obama1 = _embed_one(settings, detector, embedder, folder / "obama.jpg")
    obama2 = _embed_one(settings, detector, embedder, folder / "obama2.jpg")
    biden = _embed_one(settings, detector, embedder, folder / "biden.jpg")
    threshold = create_face_embedder(embedder, settings=settings).same_person_threshold
    assert obama1.dtype == np.float32 and np.linalg.norm(obama1) == pytest.approx(1.0, abs=1e-5)
    assert float(obama1 @ obama2) >= threshold
    assert float(obama1 @ biden) < threshold
    assert np.array_equal(embedding_from_bytes(embedding_to_bytes(obama1)), obama1)


def test_arcface_refuses_faces_without_landmarks(settings: Settings, data_dir: Path) -> None:
    image = load_image(data_dir / "faces/face_recognition/obama.jpg")
    faces = create_face_detector("ultraface_rfb_320", settings=settings).detect(image)
    with pytest.raises(VidpipeError, match="5 landmarks"):
        create_face_embedder("mobilefacenet_arcface", settings=settings).embed(image, faces)


def test_no_faces_gives_an_empty_matrix(settings: Settings) -> None:
    from vidpipe.domain.detections import Detections

    out = create_face_embedder("mobilefacenet_arcface", settings=settings).embed(
        np.zeros((10, 10, 3), np.uint8), Detections.empty(("face",), with_landmarks=5)
    )
    assert out.shape == (0, 128)
