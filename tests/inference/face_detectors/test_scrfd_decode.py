import numpy as np
import pytest

from vidpipe.domain.detections import Detections
from vidpipe.inference.face_detector import merge_overlapping, tile_windows
from vidpipe.inference.face_detectors.scrfd import anchor_centres, decode_scrfd


def test_anchor_centres_repeat_per_anchor() -> None:
    centres = anchor_centres((32, 32), 8)
    assert centres.shape == (4 * 4 * 2, 2)
    assert centres[:4].tolist() == [[0, 0], [0, 0], [8, 0], [8, 0]]


def test_decode_scrfd_planted_face() -> None:
    hw = (64, 64)
    outputs = {}
    for stride in (8, 16, 32):
        n = (64 // stride) ** 2 * 2
        outputs[f"score_{stride}"] = np.zeros((1, n, 1), np.float32)
        outputs[f"bbox_{stride}"] = np.zeros((1, n, 4), np.float32)
        outputs[f"kps_{stride}"] = np.zeros((1, n, 10), np.float32)
    # stride 16, cell (x=1, y=2), second anchor → row (2*4 + 1)*2 + 1 = 19; centre (16, 32)
    outputs["score_16"][0, 19, 0] = 0.9
    outputs["bbox_16"][0, 19] = [0.5, 1.0, 1.0, 0.5]
    outputs["kps_16"][0, 19] = [0.1, 0.2] * 5
    boxes, scores, kps = decode_scrfd(outputs, hw, 0.5)
    assert scores.tolist() == pytest.approx([0.9])
    assert boxes[0].tolist() == pytest.approx([8, 16, 32, 40])
    assert kps[0, 0].tolist() == pytest.approx([17.6, 35.2])
    empty = decode_scrfd(outputs, hw, 0.95)
    assert empty[0].shape == (0, 4) and empty[2].shape == (0, 5, 2)


def test_tile_windows_cover_the_image_with_overlap() -> None:
    windows = tile_windows(1000, 500, (400, 300), 0.25)
    covered = np.zeros((500, 1000), bool)
    for x0, y0, x1, y1 in windows:
        assert x1 - x0 <= 400 and y1 - y0 <= 300
        covered[y0:y1, x0:x1] = True
    assert covered.all()
    assert tile_windows(100, 100, (400, 300), 0.25) == [(0, 0, 100, 100)]


def test_merge_removes_partial_faces_inside_whole_ones() -> None:
    found = Detections.from_arrays(
        np.array([[0, 0, 100, 100], [60, 10, 100, 90], [200, 200, 240, 240]], np.float32),
        [0.9, 0.95, 0.8],
    )
    # Containment is judged for the lower-scored box: the whole face is not inside the partial one.
    assert len(merge_overlapping(found, 0.4)) == 3
    nested = Detections.from_arrays(np.array([[0, 0, 100, 100], [10, 10, 50, 50]], np.float32), [0.9, 0.6])
    assert len(merge_overlapping(nested, 0.4)) == 1
