from pathlib import Path

import numpy as np
import pytest

from vidpipe.domain.coco import COCO80
from vidpipe.domain.detections import Detections
from vidpipe.imaging.loading import load_image
from vidpipe.inference.face_analysis import FaceAnalyzer, drop_animal_faces, face_crop
from vidpipe.settings import Settings


def test_animal_faces_are_dropped_unless_a_person_holds_them() -> None:
    cat, person = COCO80.index("cat"), COCO80.index("person")
    faces = Detections.from_arrays(
        [[10, 10, 30, 30], [110, 10, 130, 30], [210, 10, 230, 30]], [0.9] * 3, class_names=("face",)
    )
    objects = Detections.from_arrays(
        [[0, 0, 50, 50], [100, 0, 150, 50], [90, 0, 160, 60]],
        [0.9] * 3,
        [cat, cat, person],
        class_names=COCO80,
    )
    kept = drop_animal_faces(faces, objects)
    assert kept.xyxy[:, 0].tolist() == [110, 210]  # a person holding a cat keeps their face


def test_face_crop_pads_and_clips() -> None:
    image = np.zeros((100, 100, 3), np.uint8)
    crop, origin = face_crop(image, (40, 40, 60, 60), padding=0.5)
    assert crop.shape[:2] == (40, 40) and origin == (30, 30)
    crop, origin = face_crop(image, (0, 0, 20, 20), padding=0.5)
    assert crop.shape[:2] == (30, 30) and origin == (0, 0)


@pytest.mark.models
@pytest.mark.data
def test_analyze_two_people(settings: Settings, data_dir: Path) -> None:
    analyzer = FaceAnalyzer("scrfd_2.5g_kps", "dlib_resnet_v1", settings=settings)
    faces = analyzer.analyze(load_image(data_dir / "faces/face_recognition/two_people.jpg"), "two_people.jpg")
    assert [f.key for f in faces] == ["two_people.jpg#0", "two_people.jpg#1"]
    assert all(1.0 <= f.quality.score <= 10.0 and f.quality.pose is not None for f in faces)
    groups = analyzer.group(faces)
    assert len(groups) == 2  # one photo: never one person


def test_people_without_faces_counts_only_large_faceless_people() -> None:
    from vidpipe.inference.face_analysis import people_without_faces

    person = COCO80.index("person")
    objects = Detections.from_arrays(
        [[0, 0, 100, 200], [200, 0, 300, 200], [400, 0, 420, 30]], [0.9] * 3, [person] * 3, class_names=COCO80
    )
    faces = Detections.from_arrays([[30, 10, 70, 50]], [0.9], class_names=("face",))
    assert people_without_faces(objects, faces) == 1  # the second person; the third is too small
    assert people_without_faces(objects, Detections.empty(("face",))) == 2
