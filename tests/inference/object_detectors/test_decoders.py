"""The raw-output decoders on synthetic tensors whose right answer is known by construction."""

import numpy as np
import pytest

from vidpipe.inference.object_detectors.ultralytics import decode_ultralytics
from vidpipe.inference.object_detectors.yolox import decode_yolox, yolox_grid


def test_yolox_grid_order_and_strides() -> None:
    grid, stride = yolox_grid((64, 64))
    assert len(grid) == 8 * 8 + 4 * 4 + 2 * 2
    assert grid[1].tolist() == [1, 0]  # x runs fastest within a row
    assert grid[8].tolist() == [0, 1]
    assert stride[0, 0] == 8 and stride[64, 0] == 16 and stride[-1, 0] == 32


def test_yolox_decodes_a_planted_box() -> None:
    grid, _ = yolox_grid((64, 64))
    raw = np.zeros((len(grid), 5 + 3), np.float32)
    raw[:, 2:4] = -10  # tiny boxes everywhere
    anchor = 64 + 4 * 1 + 2  # stride 16, cell (x=2, y=1)
    raw[anchor, :4] = [0.5, 0.25, np.log(2.0), np.log(1.0)]
    raw[anchor, 4] = 0.8
    raw[anchor, 5:] = [0.1, 0.9, 0.2]
    xyxy, scores = decode_yolox(raw, (64, 64))
    # centre = ((2, 1) + (0.5, 0.25)) * 16 = (40, 20); size = (2, 1) * 16 = (32, 16)
    assert xyxy[anchor].tolist() == pytest.approx([24, 12, 56, 28])
    assert scores[anchor].tolist() == pytest.approx([0.08, 0.72, 0.16])


def test_yolox_rejects_a_wrong_anchor_count() -> None:
    with pytest.raises(ValueError, match="anchors"):
        decode_yolox(np.zeros((10, 85), np.float32), (64, 64))


def test_ultralytics_decodes_centre_boxes() -> None:
    raw = np.zeros((4 + 2, 3), np.float32)
    raw[:4, 1] = [100, 50, 40, 20]
    raw[4:, 1] = [0.1, 0.95]
    raw[4:, 2] = [0.3, 0.2]  # below the threshold
    xyxy, scores, class_id = decode_ultralytics(raw, 0.5)
    assert xyxy.tolist() == [pytest.approx([80, 40, 120, 60])]
    assert scores.tolist() == pytest.approx([0.95]) and class_id.tolist() == [1]
    assert decode_ultralytics(raw, 0.99)[0].shape == (0, 4)
