import numpy as np
import pytest

from vidpipe.inference.alignment import ARCFACE_TEMPLATE, align_face, similarity_matrix


def test_template_maps_to_itself() -> None:
    m = similarity_matrix(ARCFACE_TEMPLATE)
    np.testing.assert_allclose(m, [[1, 0, 0], [0, 1, 0]], atol=1e-5)


def test_rotated_scaled_shifted_landmarks_are_undone() -> None:
    angle = np.deg2rad(30)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    points = (ARCFACE_TEMPLATE @ rot.T) * 2.5 + np.array([300, 120])
    m = similarity_matrix(points.astype(np.float32))
    back = points @ m[:, :2].T + m[:, 2]
    np.testing.assert_allclose(back, ARCFACE_TEMPLATE, atol=1e-3)


def test_align_face_puts_a_marked_eye_where_the_template_says() -> None:
    image = np.zeros((400, 400, 3), np.uint8)
    points = ARCFACE_TEMPLATE * 3 + 50  # a face three times the template's size
    x, y = points[0].astype(int)
    image[y - 3 : y + 4, x - 3 : x + 4] = 255  # a bright left eye
    chip = align_face(image, points.astype(np.float32))
    assert chip.shape == (112, 112, 3)
    ey, ex = np.unravel_index(int(np.argmax(chip[..., 0])), chip.shape[:2])
    assert abs(ex - ARCFACE_TEMPLATE[0, 0]) <= 2 and abs(ey - ARCFACE_TEMPLATE[0, 1]) <= 2


def test_align_face_needs_five_points() -> None:
    with pytest.raises(ValueError, match="5, 2"):
        align_face(np.zeros((10, 10, 3), np.uint8), np.zeros((4, 2), np.float32))
