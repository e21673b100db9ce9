import numpy as np
import pytest

from vidpipe.inference.nms import batched_nms, box_iou, nms


def test_iou_known_values() -> None:
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 0, 0]], np.float32)
    assert box_iou(a, b)[0].tolist() == pytest.approx([1.0, 50 / 150, 0.0, 0.0])


def test_nms_drops_overlaps_keeps_separate_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [0, 0, 10, 10]], np.float32)
    scores = np.array([0.8, 0.9, 0.7, 0.3], np.float32)
    assert nms(boxes, scores, 0.5).tolist() == [1, 2]
    # A high threshold keeps the moderately overlapping box but not the exact duplicate.
    assert nms(boxes, scores, 0.99).tolist() == [1, 0, 2]


def test_nms_keeps_sub_pixel_precision() -> None:
    boxes = np.array([[0, 0, 1, 1], [0.5, 0, 1.5, 1]], np.float32)  # IoU = 1/3
    scores = np.array([0.9, 0.8], np.float32)
    assert nms(boxes, scores, 0.3).tolist() == [0]
    assert nms(boxes, scores, 0.4).tolist() == [0, 1]


def test_nms_ties_keep_input_order() -> None:
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10]], np.float32)
    assert nms(boxes, np.array([0.5, 0.5], np.float32), 0.5).tolist() == [0]


def test_batched_nms_is_per_class() -> None:
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [1, 1, 10, 10]], np.float32)
    scores = np.array([0.9, 0.8, 0.7], np.float32)
    kept = batched_nms(boxes, scores, np.array([1, 0, 1]), 0.5)
    assert kept.tolist() == [0, 1]  # best first, whatever the class order
    assert batched_nms(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64), 0.5).size == 0
