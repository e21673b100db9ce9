"""A run's contact sheet from stored tiles: the usual layout for a usual manifest, bounded for a big one."""

from __future__ import annotations

from pathlib import Path

import pytest

from vidpipe.imaging.contact_sheet import MIN_CELL
from vidpipe.imaging.loading import load_image
from vidpipe.pipeline.run_sheet import SHEET_PIXELS, USUAL_PHOTOS, SheetTile, draw_sheet, sheet_layout
from vidpipe.storage import FileStore

JPEG_MAX_SIDE = 65_500


def test_a_usual_manifest_keeps_the_usual_layout() -> None:
    assert sheet_layout(1) == sheet_layout(USUAL_PHOTOS) == (None, 320)
    columns, cell = sheet_layout(USUAL_PHOTOS + 1)
    assert columns is not None and columns > 4 and MIN_CELL <= cell < 320


@pytest.mark.data
@pytest.mark.parametrize("photos", [5, 300, 1000])
def test_a_sheet_stays_bounded_however_many_photos(data_dir: Path, tmp_path: Path, photos: int) -> None:
    store = FileStore(tmp_path)
    wide = store.thumbnail(load_image(data_dir / "detection/skimage_data/motorcycle_left.png"), max_side=320)
    tall = store.thumbnail(load_image(data_dir / "detection/skimage_data/rocket.jpg"), max_side=320)
    tiles = [SheetTile(wide if i % 2 else tall, f"photo {i}", "PROP") for i in range(photos)]
    sheet = draw_sheet(store, tiles, title="Many photos")
    height, width = sheet.shape[:2]
    # At 4 columns of 320-pixel cells, 1,000 photos made a sheet 97,000 pixels tall: no JPEG can hold it.
    assert max(height, width) < JPEG_MAX_SIDE and height * width <= 1.2 * SHEET_PIXELS
    assert load_image(store.read_bytes(store.put_image(sheet, kind="sheets"))).shape == sheet.shape
