from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vidpipe.domain.detections import Detections
from vidpipe.imaging.draw import draw_detections, montage, save_image


def test_boxes_are_drawn_and_the_input_is_untouched() -> None:
    image = np.full((400, 600, 3), 255, np.uint8)
    before = image.copy()
    found = Detections.from_arrays(
        [[100, 150, 300, 350]], [0.87], [0], class_names=("cup",), landmarks=[[[150, 200]] * 5]
    )
    drawn = draw_detections(image, found)
    assert np.array_equal(image, before)
    assert (drawn[250, 100] != 255).any() and (drawn[250, 300] != 255).any()  # left and right edges
    assert (drawn[200, 150] != 255).any()  # the landmark dot
    assert (drawn[120:150, 100:200] != 255).any()  # the label tag above the box
    assert (drawn[380:, 450:] == 255).all()  # far away stays white


def test_label_at_the_top_edge_goes_inside_the_box() -> None:
    image = np.full((200, 200, 3), 255, np.uint8)
    found = Detections.from_arrays([[20, 0, 180, 150]], [0.5], [0], class_names=("tv",))
    drawn = draw_detections(image, found, labels=["custom"])
    assert (drawn[2:15, 25:60] != 255).any()


def test_montage_grid_size_captions_and_title() -> None:
    tiles = [np.zeros((50, 80, 3), np.uint8)] * 5
    plain = montage(tiles, tile_size=100)
    assert plain.shape[1] > 3 * 100 and plain.shape[0] > 2 * 100  # 3 columns, 2 rows
    labelled = montage(tiles, tile_size=100, captions=["a"] * 5, title="Person 1")
    assert labelled.shape[0] > plain.shape[0] and labelled.shape[1] == plain.shape[1]
    assert montage(tiles, tile_size=100, columns=5).shape[1] > plain.shape[1]


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp"])
def test_save_image_round_trip_leaves_no_temporary_files(tmp_path: Path, suffix: str) -> None:
    image = np.zeros((20, 30, 3), np.uint8)
    image[:, :15] = (255, 0, 0)
    out = save_image(image, tmp_path / "sub" / f"x{suffix}")
    with Image.open(out) as saved:
        assert saved.size == (30, 20)
        assert np.asarray(saved.convert("RGB"))[10, 5, 0] > 200
    assert [p.name for p in out.parent.iterdir()] == [out.name]


def test_save_image_refuses_unknown_suffixes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="suffix"):
        save_image(np.zeros((2, 2, 3), np.uint8), tmp_path / "x.gifx")
