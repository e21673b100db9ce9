"""The numbered contact sheet of a manifest: every reference photo in a grid, numbered in upload order.

People use the sheet to say which photo they mean ("number 3 is the same person as number 7"), so the
number badges must be readable on any photo, and each cell says the photo's name and asset type.
"""

from __future__ import annotations

import functools
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

from vidpipe.domain.enums import AssetType
from vidpipe.imaging.draw import BACKGROUND, PALETTE, _font

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

LETTERBOX = (206, 206, 206)  # the empty part of a cell around a photo that does not fill it
TITLE_BAR = (38, 38, 38)
TITLE_TEXT = (255, 255, 255)
COUNT_TEXT = (190, 190, 190)
NAME_TEXT = (25, 25, 25)
TYPE_TEXT = (85, 85, 85)
BADGE_FILL = (20, 20, 20)
BADGE_TEXT = (255, 255, 255)
BADGE_OUTLINE = (255, 255, 255)
DEFAULT_MAX_COLUMNS = 4
MIN_CELL = 64

TYPE_COLOURS = {t.value: PALETTE[i] for i, t in enumerate(AssetType)}
_UNKNOWN_TYPE_COLOUR = (127, 127, 127)

# Stand-ins for characters the default font has no glyph for and that do not decompose into ones it has.
_STAND_INS = {
    "—": "-", "–": "-", "‒": "-", "―": "-", "−": "-", "‐": "-", "‑": "-",
    "ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L",
    "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "Th", "ı": "i",
    "‚": ",", "„": '"', "′": "'", "″": '"', "•": "·", "×": "x",
}  # fmt: skip


@dataclass(frozen=True)
class SheetEntry:
    """One photo of the sheet: H×W×3 uint8 RGB pixels, its name (file or asset name) and asset type."""

    image: np.ndarray[Any, Any]
    name: str
    asset_type: str


def contact_sheet(
    entries: Sequence[SheetEntry], *, title: str, columns: int | None = None, cell: int = 320
) -> np.ndarray[Any, Any]:
    """Draw the numbered contact sheet of ``entries`` (numbered 1, 2, … in the order given).

    Args:
        entries: The photos, in upload order.
        title: Shown in the bar on top, followed by the photo count ("12 photos").
        columns: Cells per row; by default at most 4, balanced so the last row is not nearly empty.
        cell: The side in pixels of the square each photo is fitted into (aspect kept, letterboxed).

    Returns:
        A new, writable H×W×3 uint8 RGB image.
    """
    if cell < MIN_CELL:
        raise ValueError(f"bad cell size {cell!r}: expected at least {MIN_CELL} pixels")
    if columns is not None and columns < 1:
        raise ValueError(f"bad number of columns {columns!r}: expected at least 1")
    n = len(entries)
    pictures = [_fit(_to_pil(entry.image, i + 1, entry.name), cell) for i, entry in enumerate(entries)]
    cols = columns or (math.ceil(n / math.ceil(n / DEFAULT_MAX_COLUMNS)) if n else 1)
    rows = math.ceil(n / cols)

    gap = max(8, cell // 20)
    title_font = _cached_font(max(16, cell // 11))
    count_font = _cached_font(max(12, cell // 16))
    name_font = _cached_font(max(11, cell // 18))
    type_font = _cached_font(max(10, cell // 24))
    badge_font = _cached_font(max(14, cell // 9))
    name_h, type_h = _line_height(name_font), _line_height(type_font)
    caption_h = gap // 2 + name_h + gap // 4 + type_h
    title_h = _line_height(title_font) + 2 * gap

    count = "no photos" if n == 0 else f"{n} photo" if n == 1 else f"{n} photos"
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    title_text = _displayable(title, title_font)
    count_w = round(probe.textlength(count, font=count_font))
    grid_w = cols * cell + (cols + 1) * gap
    wanted_w = round(probe.textlength(title_text, font=title_font)) + count_w + 4 * gap
    widest = DEFAULT_MAX_COLUMNS * cell + (DEFAULT_MAX_COLUMNS + 1) * gap
    width = max(grid_w, min(wanted_w, widest))
    height = title_h + rows * (cell + caption_h + gap) + gap

    sheet = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)

    # The title bar: the title on the left (shortened if need be), the count on the right.
    draw.rectangle((0, 0, width - 1, title_h - 1), fill=TITLE_BAR)
    title_text = _shorten(title_text, title_font, width - count_w - 4 * gap, draw)
    draw.text((gap, gap), title_text, fill=TITLE_TEXT, font=title_font)
    count_y = gap + _baseline(title_font) - _baseline(count_font)
    draw.text((width - gap - count_w, count_y), count, fill=COUNT_TEXT, font=count_font)

    for i, (entry, picture) in enumerate(zip(entries, pictures, strict=True)):
        r, c = divmod(i, cols)
        x0 = gap + c * (cell + gap)
        y0 = title_h + gap + r * (cell + caption_h + gap)
        draw.rectangle((x0, y0, x0 + cell - 1, y0 + cell - 1), fill=LETTERBOX)
        sheet.paste(picture, (x0 + (cell - picture.width) // 2, y0 + (cell - picture.height) // 2))
        _badge(draw, str(i + 1), x0 + gap // 2, y0 + gap // 2, badge_font)

        name_y = y0 + cell + gap // 2
        name = _shorten(_displayable(entry.name, name_font), name_font, cell, draw)
        draw.text((x0, name_y), name, fill=NAME_TEXT, font=name_font)

        type_y = name_y + name_h + gap // 4
        kind = str(entry.asset_type).upper()
        dot = max(6, type_h // 2)
        dot_y = type_y + (type_h - dot) // 2
        draw.ellipse((x0, dot_y, x0 + dot - 1, dot_y + dot - 1), fill=TYPE_COLOURS.get(kind, _UNKNOWN_TYPE_COLOUR))
        text_x = x0 + dot + max(4, dot // 2)
        kind = _shorten(_displayable(kind, type_font), type_font, x0 + cell - text_x, draw)
        draw.text((text_x, type_y), kind, fill=TYPE_TEXT, font=type_font)
    return np.array(sheet)


def _to_pil(image: np.ndarray[Any, Any], number: int, name: str) -> Image.Image:
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] != 3):
        raise ValueError(
            f"photo {number} ({name!r}): expected an H×W×3 uint8 RGB image, got shape {array.shape} "
            f"and dtype {array.dtype}"
        )
    if 0 in array.shape:
        raise ValueError(f"photo {number} ({name!r}): the image is empty (shape {array.shape})")
    return Image.fromarray(np.ascontiguousarray(array)).convert("RGB")


def _fit(picture: Image.Image, cell: int) -> Image.Image:
    """Scale a photo to fit a cell×cell square, keeping its aspect; small photos are enlarged."""
    if max(picture.size) > cell:
        picture.thumbnail((cell, cell), Image.Resampling.LANCZOS)  # reduces big photos in steps, fast
        return picture
    return ImageOps.contain(picture, (cell, cell), Image.Resampling.LANCZOS)


def _badge(draw: ImageDraw.ImageDraw, text: str, x: int, y: int, font: Font) -> None:
    """A dark rounded tag with a white outline and a white number, readable on light and dark photos."""
    left, top, right, bottom = (round(v) for v in draw.textbbox((0, 0), text, font=font))
    pad = max(4, (bottom - top) // 3)
    h = bottom - top + 2 * pad
    w = max(h, right - left + h // 2 + pad)  # a circle for one digit, a pill with round ends for more
    outline = max(2, h // 16)
    draw.rounded_rectangle((x, y, x + w, y + h), radius=h // 2, fill=BADGE_FILL, outline=BADGE_OUTLINE, width=outline)
    draw.text((x + (w - (right - left)) / 2 - left, y + pad - top), text, fill=BADGE_TEXT, font=font)


@functools.cache
def _cached_font(size: int) -> Font:
    return _font(size)


def _line_height(font: Font) -> int:
    if isinstance(font, ImageFont.FreeTypeFont):
        ascent, descent = font.getmetrics()
        return int(ascent + descent)
    return int(font.getbbox("Ag")[3])


def _baseline(font: Font) -> int:
    return int(font.getmetrics()[0]) if isinstance(font, ImageFont.FreeTypeFont) else _line_height(font)


def _shorten(text: str, font: Font, width: int, draw: ImageDraw.ImageDraw) -> str:
    """``text`` if it fits ``width`` pixels, else its start and end around an ellipsis (names differ at both)."""
    if draw.textlength(text, font=font) <= width:
        return text
    ellipsis = "…" if _has_glyph(font, "…") else "..."
    low, high = 0, len(text)  # the most characters kept such that the result fits
    while low < high:
        mid = (low + high + 1) // 2
        if draw.textlength(_cut(text, mid, ellipsis), font=font) <= width:
            low = mid
        else:
            high = mid - 1
    return _cut(text, low, ellipsis) if low else ""


def _cut(text: str, keep: int, ellipsis: str) -> str:
    head = (keep + 1) // 2
    tail = keep - head
    return text[:head].rstrip() + ellipsis + (text[len(text) - tail :].lstrip() if tail else "")


def _displayable(text: str, font: Font) -> str:
    """``text`` on one line, with characters the font lacks replaced by near equivalents it has.

    The default font covers little more than ASCII, so "Zoë — the café" becomes "Zoe - the cafe".
    Characters with no stand-in (Japanese, emoji, …) stay and show as the font's empty box, or as "?"
    with Pillow's bitmap font, which cannot draw them at all.
    """
    out: list[str] = []
    for ch in text:
        if unicodedata.category(ch)[0] in "CZ":
            out.append(" " if ch.isspace() else "")  # line breaks and tabs become spaces, format marks go
        elif _has_glyph(font, ch):
            out.append(ch)
        else:
            decomposed = unicodedata.normalize("NFKD", _STAND_INS.get(ch, ch))
            bare = "".join(c for c in decomposed if not unicodedata.combining(c))
            if bare and all(_has_glyph(font, c) for c in bare):
                out.append(bare)
            else:
                out.append(ch if isinstance(font, ImageFont.FreeTypeFont) else "?")
    return " ".join("".join(out).split())


@functools.lru_cache(maxsize=4096)
def _has_glyph(font: Font, ch: str) -> bool:
    if not isinstance(font, ImageFont.FreeTypeFont):
        return ch.isascii() and ch.isprintable()
    if ch.isspace():
        return True
    return _mask(font, ch) != _mask(font, "\uffff")  # U+FFFF is a noncharacter: every font draws it as .notdef


def _mask(font: ImageFont.FreeTypeFont, ch: str) -> tuple[tuple[int, int], bytes]:
    mask = font.getmask(ch)
    return mask.size, bytes(mask)
