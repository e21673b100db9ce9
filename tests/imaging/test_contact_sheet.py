from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from vidpipe.imaging.contact_sheet import LETTERBOX, SheetEntry, contact_sheet
from vidpipe.imaging.draw import save_image

CELL = 160
GREEN = (0, 160, 0)


def _solid(h: int, w: int, colour: tuple[int, int, int] = GREEN) -> np.ndarray:
    return np.full((h, w, 3), colour, np.uint8)


def _entries(n: int, *, name: str = "photo.png", kind: str = "CHARACTER") -> list[SheetEntry]:
    return [SheetEntry(_solid(100, 100), name, kind) for _ in range(n)]


def _is(sheet: np.ndarray, colour: tuple[int, int, int], tolerance: int = 6) -> np.ndarray:
    return (np.abs(sheet.astype(int) - colour) <= tolerance).all(axis=-1)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of each run of True in a 1-D mask."""
    padded = np.concatenate([[False], mask, [False]]).astype(int)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def _cells(sheet: np.ndarray) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Column and row extents of the green cells (square green photos fill their cells)."""
    green = _is(sheet, GREEN)
    return _runs(green.sum(axis=0) > CELL // 2), _runs(green.sum(axis=1) > CELL // 2)


def test_result_is_an_rgb_image_and_grows_with_rows() -> None:
    one_row = contact_sheet(_entries(2), title="T", columns=2, cell=CELL)
    two_rows = contact_sheet(_entries(3), title="T", columns=2, cell=CELL)
    three_rows = contact_sheet(_entries(5), title="T", columns=2, cell=CELL)
    assert one_row.dtype == np.uint8 and one_row.ndim == 3 and one_row.shape[2] == 3
    assert one_row.flags.writeable
    assert one_row.shape[1] == two_rows.shape[1] == three_rows.shape[1] >= 2 * CELL
    row_height = two_rows.shape[0] - one_row.shape[0]
    assert row_height > CELL and three_rows.shape[0] - two_rows.shape[0] == row_height
    columns, rows = _cells(three_rows)
    assert len(columns) == 2 and len(rows) == 3
    assert all(stop - start == CELL for start, stop in columns + rows)


def test_default_columns_are_at_most_four_and_balanced() -> None:
    widths = {n: contact_sheet(_entries(n), title="T", cell=CELL).shape[1] for n in (1, 2, 3, 4, 5, 8, 9, 13)}
    assert widths[1] < widths[2] < widths[3] < widths[4]
    assert widths[5] == widths[3]  # 3 + 2 rather than 4 + 1
    assert widths[8] == widths[4] and widths[9] == widths[3] and widths[13] == widths[4]
    assert len(_cells(contact_sheet(_entries(9), title="T", cell=CELL))[1]) == 3


@pytest.mark.parametrize(("h", "w"), [(100, 300), (300, 100), (90, 45), (1000, 1500)])
def test_photos_fit_their_cell_keeping_their_aspect(h: int, w: int) -> None:
    red = (220, 20, 20)
    sheet = contact_sheet([SheetEntry(_solid(h, w, red), "p.png", "PROP")], title="T", cell=CELL)
    ys, xs = np.nonzero(_is(sheet, red))
    height, width = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
    assert max(height, width) == CELL  # fitted: small photos are enlarged, big ones reduced
    assert abs(width / height - w / h) < 0.03 * (w / h)
    # letterboxed: the rest of the cell is the neutral background, split evenly on both sides
    letterbox = _is(sheet, LETTERBOX, tolerance=0)
    if width < height:
        row = sheet[ys.min() + CELL // 2]
        left, right = _runs(_is(row[None], LETTERBOX, tolerance=0)[0])[-2:]
        assert abs((left[1] - left[0]) - (right[1] - right[0])) <= 1
    assert letterbox.sum() >= CELL * CELL - height * width - 60 * 60  # less only where the badge sits


def test_number_badges_differ_and_nothing_else_does() -> None:
    sheet = contact_sheet(_entries(3), title="T", columns=3, cell=CELL)
    columns, rows = _cells(sheet)
    assert len(columns) == 3 and len(rows) == 1
    top, bottom = rows[0][0], sheet.shape[0]
    crops = [sheet[top:bottom, start:stop].astype(int) for start, stop in columns]
    for a, b in ((0, 1), (1, 2), (0, 2)):
        differs = np.abs(crops[a] - crops[b]).sum(axis=-1) > 0
        ys, xs = np.nonzero(differs)
        assert len(ys) > 20  # the digits differ
        assert ys.max() < CELL // 3 and xs.max() < CELL // 3  # ... in the top-left corner only
    badge = crops[0][: CELL // 3, : CELL // 3]
    assert (badge.sum(axis=-1) < 90).sum() > 100 and (badge.min(axis=-1) > 230).sum() > 20  # dark tag, white text


def test_captions_show_the_name_and_the_type() -> None:
    base = contact_sheet(_entries(1, name="a.png", kind="CHARACTER"), title="T", cell=CELL)
    renamed = contact_sheet(_entries(1, name="another_name.png", kind="CHARACTER"), title="T", cell=CELL)
    retyped = contact_sheet(_entries(1, name="a.png", kind="VEHICLE"), title="T", cell=CELL)
    blank = contact_sheet(_entries(1, name="", kind=""), title="T", cell=CELL)
    _, rows = _cells(base)
    photo_bottom = rows[0][1]
    assert np.array_equal(base[:photo_bottom], renamed[:photo_bottom])
    assert np.array_equal(base[:photo_bottom], retyped[:photo_bottom])
    name_rows = np.nonzero((base != renamed).any(axis=(1, 2)))[0]
    type_rows = np.nonzero((base != retyped).any(axis=(1, 2)))[0]
    assert len(name_rows) and len(type_rows)
    assert photo_bottom < name_rows.min() and name_rows.max() < type_rows.min()  # the name, then the type below
    assert (blank[photo_bottom:].sum(axis=-1) < 300).sum() < (base[photo_bottom:].sum(axis=-1) < 300).sum()


def test_the_type_is_shown_in_capitals() -> None:
    upper = contact_sheet(_entries(1, kind="CHARACTER"), title="T", cell=CELL)
    lower = contact_sheet(_entries(1, kind="character"), title="T", cell=CELL)
    assert np.array_equal(upper, lower)


def test_long_names_stay_inside_their_cell() -> None:
    long_name = "a_really_long_reference_photo_name_" * 6 + ".png"
    entries = [SheetEntry(_solid(100, 100), name, "PROP") for name in (long_name, "", "")]
    short = [SheetEntry(_solid(100, 100), name, "PROP") for name in ("", "", "")]
    sheet = contact_sheet(entries, title="T", columns=3, cell=CELL)
    plain = contact_sheet(short, title="T", columns=3, cell=CELL)
    assert sheet.shape == plain.shape
    columns, _ = _cells(sheet)
    xs = np.nonzero((sheet != plain).any(axis=(0, 2)))[0]
    assert len(xs) and columns[0][0] <= xs.min() and xs.max() < columns[0][1]
    assert xs.max() > columns[0][1] - CELL // 4  # the name was shortened to fit, not cut at some short length


def test_long_titles_are_shortened() -> None:
    sheet = contact_sheet(_entries(1), title="A very long manifest title " * 20, cell=CELL)
    assert sheet.shape[1] <= 4 * CELL + 5 * max(8, CELL // 20)


@pytest.mark.parametrize(
    "name",
    ["Zoë — the café", "写真_カメラ.png", "emoji 🎬🎥.png", "tab\tnew\nline", "\u200bzero width", "ß æ ø ł", " "],
)
def test_any_unicode_name_draws(name: str) -> None:
    sheet = contact_sheet([SheetEntry(_solid(50, 80), name, "CHARACTER")], title=name, cell=CELL)
    assert sheet.shape[2] == 3


def test_accented_letters_the_font_lacks_fall_back_to_plain_ones() -> None:
    accented = contact_sheet([SheetEntry(_solid(50, 80), "Zoë — the café", "PROP")], title="Zoë", cell=CELL)
    plain = contact_sheet([SheetEntry(_solid(50, 80), "Zoe - the cafe", "PROP")], title="Zoe", cell=CELL)
    assert np.array_equal(accented, plain)


def test_no_entries_gives_just_the_title_bar() -> None:
    empty = contact_sheet([], title="Empty manifest", cell=CELL)
    one = contact_sheet(_entries(1), title="Empty manifest", cell=CELL)
    assert empty.dtype == np.uint8 and empty.shape[2] == 3
    assert 0 < empty.shape[0] < one.shape[0] - CELL
    bar_height = int(np.argmax(empty[:, 0].sum(axis=-1) > 300))  # the first row below the dark bar
    assert bar_height > 10 and (empty[bar_height:] == empty[-1, -1]).all()  # nothing but background below
    assert (empty[:bar_height].min(axis=-1) > 150).sum() > 100  # the title and "no photos", light on the bar
    titled = contact_sheet([], title="Empty manifest, longer title", cell=CELL)
    assert titled.shape[1] > empty.shape[1]  # the bar is as wide as its title needs


def test_one_entry() -> None:
    sheet = contact_sheet(_entries(1), title="One", cell=CELL)
    columns, rows = _cells(sheet)
    assert len(columns) == 1 and len(rows) == 1
    assert sheet.shape[1] >= CELL


def test_grey_photos_are_accepted_and_bad_input_refused() -> None:
    grey = np.full((40, 40), 128, np.uint8)
    assert contact_sheet([SheetEntry(grey, "g", "STYLE")], title="T", cell=CELL).shape[2] == 3
    with pytest.raises(ValueError, match="cell size"):
        contact_sheet([], title="T", cell=10)
    with pytest.raises(ValueError, match="columns"):
        contact_sheet([], title="T", columns=0)
    with pytest.raises(ValueError, match=r"photo 2 \('bad'\)"):
        contact_sheet([*_entries(1), SheetEntry(np.zeros((4, 4, 3)), "bad", "PROP")], title="T", cell=CELL)
    with pytest.raises(ValueError, match="empty"):
        contact_sheet([SheetEntry(np.zeros((0, 4, 3), np.uint8), "e", "PROP")], title="T", cell=CELL)


def test_input_images_are_untouched() -> None:
    image = _solid(400, 300)
    before = image.copy()
    contact_sheet([SheetEntry(image, "x", "PROP")], title="T", cell=CELL)
    assert np.array_equal(image, before)


def test_a_real_contact_sheet(photo: Callable[[str], np.ndarray[Any, Any]], tmp_path: Path) -> None:
    names = ["astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png"]
    kinds = ["CHARACTER", "PROP", "CHARACTER", "ENVIRONMENT", "VEHICLE"]
    entries = [SheetEntry(photo(name), name, kind) for name, kind in zip(names, kinds, strict=True)]
    sheet = contact_sheet(entries, title="Manifest: scikit-image samples")
    out = save_image(sheet, tmp_path / "contact_sheet.png")
    with Image.open(out) as saved:
        assert saved.size == (sheet.shape[1], sheet.shape[0])
    assert sheet.shape[1] > 3 * 320 and sheet.shape[0] > 2 * 320  # 3 columns, 2 rows
