"""Both detector adapters on real weights and real photos: one contract, several implementations."""

from pathlib import Path

import numpy as np
import pytest

from vidpipe.errors import ModelError
from vidpipe.imaging.loading import load_image
from vidpipe.inference.object_detector import create_object_detector
from vidpipe.inference.object_detectors.ultralytics import UltralyticsDetector
from vidpipe.inference.object_detectors.yolox import YoloxDetector
from vidpipe.settings import Settings

pytestmark = [pytest.mark.models, pytest.mark.data]


@pytest.mark.parametrize(("model", "cls"), [("yolox_nano", YoloxDetector), ("yolov8n_int8", UltralyticsDetector)])
def test_bus_photo(settings: Settings, data_dir: Path, model: str, cls: type) -> None:
    detector = create_object_detector(model, settings=settings)
    assert isinstance(detector, cls)
    image = load_image(data_dir / "detection/ultralytics_assets/bus.jpg")
    found = detector.detect(image)
    names = found.names
    assert names.count("person") >= 3 and "bus" in names
    bus = found[[i for i, n in enumerate(names) if n == "bus"]]
    # The bus spans the width of the 810×1080 photo, in its lower-middle part.
    x1, y1, x2, y2 = bus.xyxy[0]
    assert x1 < 60 and x2 > 780 and 200 < y1 < 260 and 700 < y2 < 800
    assert (found.confidence >= detector.confidence).all()
    assert (found.xyxy[:, 2] <= image.shape[1]).all() and (found.xyxy[:, 3] <= image.shape[0]).all()


@pytest.mark.parametrize("model", ["yolox_nano", "yolov8n_int8"])
def test_scaled_image_gives_scaled_boxes(settings: Settings, data_dir: Path, model: str) -> None:
    import cv2

    detector = create_object_detector(model, settings=settings)
    image = load_image(data_dir / "detection/skimage_data/coffee.png")
    big = cv2.resize(image, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_LINEAR)
    small_cup = detector.detect(image)
    big_cup = detector.detect(big)
    cup_small = small_cup[[i for i, n in enumerate(small_cup.names) if n == "cup"]].xyxy[0]
    cup_big = big_cup[[i for i, n in enumerate(big_cup.names) if n == "cup"]].xyxy[0]
    np.testing.assert_allclose(cup_big / 2, cup_small, atol=12)


def test_a_user_onnx_file_gets_its_format_from_the_output_shape(settings: Settings, model_dir: Path) -> None:
    assert isinstance(
        create_object_detector(str(model_dir / "yolov8n_int8.onnx"), settings=settings), UltralyticsDetector
    )
    assert isinstance(create_object_detector(str(model_dir / "yolox_nano.onnx"), settings=settings), YoloxDetector)
    with pytest.raises(ModelError, match="does not exist"):
        create_object_detector("/nowhere/model.onnx", settings=settings)


def test_nothing_found_in_a_blank_image(settings: Settings) -> None:
    found = create_object_detector("yolox_nano", settings=settings).detect(np.full((300, 400, 3), 128, np.uint8))
    assert len(found) == 0 and found.class_names[0] == "person"


def test_a_face_model_is_refused_as_an_object_detector(settings: Settings) -> None:
    with pytest.raises(ModelError, match="face-detection model"):
        YoloxDetector("scrfd_2.5g_kps", settings=settings)
