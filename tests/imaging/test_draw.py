import os
import stat
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from vidpipe.domain.detections import Detections
from vidpipe.errors import VidpipeError
from vidpipe.imaging import draw as draw_module
from vidpipe.imaging.draw import PALETTE, colour_for, draw_detections, montage, save_image

WHITE = 255


def _cup(box: list[float], **kwargs: Any) -> Detections:
    return Detections.from_arrays([box], [0.87], [0], class_names=("cup",), **kwargs)


def test_boxes_are_drawn_and_the_input_is_untouched() -> None:
    image = np.full((400, 600, 3), WHITE, np.uint8)
    before = image.copy()
    found = _cup([100, 150, 300, 350], landmarks=[[[150, 200]] * 5])
    drawn = draw_detections(image, found)
    assert np.array_equal(image, before) and drawn is not image
    assert drawn.shape == image.shape and drawn.dtype == np.uint8
    # The outline in the class colour on all four sides, the inside left alone (but for the dot).
    colour = np.array(PALETTE[0])
    for y, x in ((250, 100), (250, 300), (150, 200), (350, 200)):
        assert np.abs(drawn[y, x].astype(int) - colour).max() <= 1, (y, x)
    assert (drawn[280:340, 220:290] == WHITE).all()
    assert (drawn[200, 150] != WHITE).any()  # the landmark dot
    assert (drawn[380:, 450:] == WHITE).all() and (drawn[:100, 400:] == WHITE).all()  # far away


def test_the_tag_appears_above_the_box_with_text_in_it() -> None:
    image = np.full((400, 600, 3), WHITE, np.uint8)
    drawn = draw_detections(image, _cup([100, 150, 300, 350]))
    above = drawn[100:150, 100:300].reshape(-1, 3).astype(int)
    fill = np.abs(above - np.array(PALETTE[0])).max(axis=1) <= 1
    text = (above == WHITE).all(axis=1)  # white letters on the dark blue patch
    assert fill.sum() > 200 and text.sum() > 20
    # A longer text makes a wider tag: the text is really drawn, not a fixed patch.
    long = draw_detections(image, _cup([100, 150, 300, 350]), labels=["a much longer label 0.87"])
    assert (long[100:150, 100:500] != WHITE).any(axis=2).sum() > (drawn[100:150, 100:500] != WHITE).any(axis=2).sum()


def test_label_at_the_top_edge_goes_inside_the_box() -> None:
    image = np.full((200, 200, 3), WHITE, np.uint8)
    found = Detections.from_arrays([[20, 0, 180, 150]], [0.5], [0], class_names=("tv",))
    drawn = draw_detections(image, found, labels=["custom"])
    assert (drawn[2:15, 25:60] != WHITE).any()


def test_no_tag_for_an_empty_label_and_labels_must_match() -> None:
    image = np.full((200, 200, 3), WHITE, np.uint8)
    found = _cup([50, 80, 150, 150])
    assert (draw_detections(image, found, labels=[""])[:78] == WHITE).all()
    with pytest.raises(ValueError, match="labels"):
        draw_detections(image, found, labels=["a", "b"])


def test_colours_by_class_and_odd_boxes_do_not_crash() -> None:
    assert colour_for(0) != colour_for(1) and colour_for(len(PALETTE)) == colour_for(0)
    assert len(set(PALETTE)) == len(PALETTE)
    image = np.zeros((120, 160), np.uint8)  # gray input gives RGB output
    odd = Detections.from_arrays(
        [[100, 100, 20, 20], [-50, -50, 500, 500], [300, 300, 400, 400], [np.nan, 0, 10, 10]],
        [0.9, 0.8, 0.7, 0.6],
        [1, 2, 3, 4],
        landmarks=np.full((4, 5, 2), np.nan),
    )
    drawn = draw_detections(image, odd)
    assert drawn.shape == (120, 160, 3)
    assert draw_detections(image, Detections.empty()).sum() == 0


def test_line_and_text_grow_with_the_image() -> None:
    def ink(side: int) -> int:
        image = np.full((side, side, 3), WHITE, np.uint8)
        box = [side * 0.25, side * 0.4, side * 0.75, side * 0.9]
        return int((draw_detections(image, _cup(box)) != WHITE).any(axis=2).sum())

    assert ink(1600) > 4 * ink(400)


def test_montage_grid_size_captions_and_title() -> None:
    tiles = [np.zeros((50, 80, 3), np.uint8)] * 5
    plain = montage(tiles, tile_size=100)
    gap = 5  # max(4, tile_size // 20)
    assert plain.shape == (2 * 100 + 3 * gap, 3 * 100 + 4 * gap, 3)  # ceil(sqrt(5)) = 3 columns, 2 rows
    captioned = montage(tiles, tile_size=100, captions=["a"] * 5)
    titled = montage(tiles, tile_size=100, captions=["a"] * 5, title="Person 1")
    assert plain.shape[0] < captioned.shape[0] < titled.shape[0]
    assert plain.shape[1] == captioned.shape[1] == titled.shape[1]
    assert montage(tiles, tile_size=100, columns=5).shape[:2] == (100 + 2 * gap, 5 * 100 + 6 * gap)
    assert montage(tiles, tile_size=100, columns=1).shape[:2] == (5 * 100 + 6 * gap, 100 + 2 * gap)
    with pytest.raises(ValueError, match="captions"):
        montage(tiles, captions=["a"])


def test_montage_fits_tiles_keeping_aspect_ratio() -> None:
    small = np.zeros((20, 40, 3), np.uint8)  # enlarged to 100×50, centred
    sheet = montage([small], tile_size=100)
    cell = sheet[5:105, 5:105]
    dark = (cell < 10).all(axis=2)
    rows, cols = np.nonzero(dark)
    assert cols.min() == 0 and cols.max() == 99
    assert rows.max() - rows.min() + 1 == 50 and rows.min() == 25
    assert (sheet[0, 0] == 236).all()  # the neutral background


def test_save_image_round_trip(tmp_path: Path) -> None:
    image = np.zeros((20, 30, 3), np.uint8)
    image[:, :15] = (255, 0, 0)
    png = save_image(image, tmp_path / "sub" / "deeper" / "x.png")
    with Image.open(png) as saved:
        assert saved.format == "PNG" and np.array_equal(np.asarray(saved), image)
    jpg = save_image(image, tmp_path / "x.JPG", quality=95)
    with Image.open(jpg) as saved:
        error = np.abs(np.asarray(saved).astype(int) - image)
        assert saved.format == "JPEG" and error.mean() < 5 and error[:, 3:12].max() < 10  # lossy at edges


@pytest.mark.parametrize("suffix", [".jpg", ".jpeg", ".png", ".webp"])
def test_save_image_leaves_no_temporary_files(tmp_path: Path, suffix: str) -> None:
    image = np.zeros((20, 30, 4), np.uint8)  # RGBA: JPEG drops the alpha
    image[:, :15] = (255, 0, 0, 255)
    out = save_image(image, tmp_path / "sub" / f"x{suffix}")
    save_image(image, out)  # overwriting works too
    with Image.open(out) as saved:
        assert saved.size == (30, 20)
        assert np.asarray(saved.convert("RGB"))[10, 5, 0] > 200
    assert [p.name for p in out.parent.iterdir()] == [out.name]


def test_save_image_respects_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        out = save_image(np.zeros((4, 4, 3), np.uint8), tmp_path / "x.png")
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


def test_a_failed_write_keeps_the_old_file_and_no_temporary_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = save_image(np.full((8, 8, 3), 200, np.uint8), tmp_path / "x.png")
    before = target.read_bytes()

    def half_then_fail(self: Image.Image, fp: Any, *args: Any, **kwargs: Any) -> None:
        fp.write(b"\x89PNG half a file")
        raise OSError("disk full")

    monkeypatch.setattr(draw_module.Image.Image, "save", half_then_fail)
    with pytest.raises(VidpipeError, match=r"cannot write .*x\.png.*disk full"):
        save_image(np.zeros((8, 8, 3), np.uint8), target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]


def test_save_image_refuses_unknown_suffixes_and_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unsupported image suffix '\.gifx'.*\.jpg, \.jpeg, \.png"):
        save_image(np.zeros((2, 2, 3), np.uint8), tmp_path / "out" / "x.gifx")
    with pytest.raises(ValueError, match="suffix"):
        save_image(np.zeros((2, 2, 3), np.uint8), tmp_path / "noext")
    assert not (tmp_path / "out").exists()  # nothing created for a refused path
    with pytest.raises(ValueError, match="quality"):
        save_image(np.zeros((2, 2, 3), np.uint8), tmp_path / "x.jpg", quality=0)
    with pytest.raises(ValueError, match="uint8"):
        save_image(np.zeros((2, 2, 3), np.float32), tmp_path / "x.png")
