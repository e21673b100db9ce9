"""Pictures people look at: boxes drawn on photos, montages of crops, safe image writing."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from vidpipe.domain.detections import Detections
from vidpipe.fileio import atomic_write

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

# Distinct, readable colours (Tableau 10 and its light half), picked by class id.
PALETTE = (
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
    (174, 199, 232), (255, 187, 120), (152, 223, 138), (255, 152, 150), (197, 176, 213),
)  # fmt: skip
BACKGROUND = (236, 236, 236)  # neutral light grey behind montage tiles
CAPTION_TEXT = (40, 40, 40)
TITLE_TEXT = (20, 20, 20)
LANDMARK_FILL = (255, 230, 0)
LANDMARK_OUTLINE = (0, 0, 0)
FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP"}


@functools.lru_cache(maxsize=64)
def _font(size: int) -> Font:
    """Pillow's built-in font at ``size`` px (a scalable one where Pillow has FreeType)."""
    return ImageFont.load_default(size=max(8, size))


def _line_height(font: Font) -> int:
    return int(font.getbbox("Ag")[3])


def _text_colour(fill: tuple[int, int, int]) -> tuple[int, int, int]:
    luminance = 0.299 * fill[0] + 0.587 * fill[1] + 0.114 * fill[2]
    return (0, 0, 0) if luminance > 150 else (255, 255, 255)


def colour_for(class_id: int) -> tuple[int, int, int]:
    """The palette colour of a class id (the palette repeats after 15 classes)."""
    return PALETTE[int(class_id) % len(PALETTE)]


def _as_rgb(image: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """A new, writable H×W×3 uint8 copy of a gray, RGB or RGBA (alpha dropped) image."""
    if image.dtype != np.uint8:
        raise ValueError(f"image must be uint8, got dtype {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim == 3 and image.shape[2] in (3, 4):
        return np.array(image[:, :, :3], dtype=np.uint8, order="C", copy=True)
    raise ValueError(f"image must have shape (H, W, 3), got {image.shape}")


def _fit(text: str, font: Font, width: int, draw: ImageDraw.ImageDraw, *, keep_end: bool = False) -> str:
    """``text`` shortened with "..." until it fits ``width`` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text:
        text = text[1:] if keep_end else text[:-1]
        shortened = "..." + text if keep_end else text + "..."
        if draw.textlength(shortened, font=font) <= width:
            return shortened
    return ""


def draw_detections(
    image: np.ndarray[Any, Any], detections: Detections, *, labels: Sequence[str] | None = None
) -> np.ndarray[Any, Any]:
    """A copy of an H×W×3 uint8 RGB image with each box, its tag and its landmarks drawn.

    The tag reads "name 0.87" (``labels[i]`` instead where given; an empty label draws no tag) on a
    filled patch of the box colour, above the box, or just inside it when the box touches the top
    edge. Colours come from PALETTE by class id; line width and text size grow with the image. The
    input array is never modified.
    """
    if labels is not None and len(labels) != len(detections):
        raise ValueError(f"got {len(labels)} labels for {len(detections)} detections")
    canvas = Image.fromarray(_as_rgb(image))
    draw = ImageDraw.Draw(canvas)
    w, h = canvas.size
    scale = math.sqrt(w * h)
    line = max(2, round(scale / 350))
    font = _font(max(12, round(scale / 45)))
    pad = max(2, line)
    dot = max(2, round(line * 1.2))
    names = detections.names
    tags: list[tuple[float, float, str, tuple[int, int, int]]] = []
    for i in range(len(detections)):
        box = detections.xyxy[i].astype(np.float64)
        if not np.isfinite(box).all():
            continue
        x1, x2 = sorted((float(box[0]), float(box[2])))
        y1, y2 = sorted((float(box[1]), float(box[3])))
        x1, x2 = max(0.0, x1), min(w - 1.0, x2)
        y1, y2 = max(0.0, y1), min(h - 1.0, y2)
        if x2 < x1 or y2 < y1:
            continue  # wholly outside the image
        colour = colour_for(int(detections.class_id[i]))
        draw.rectangle((x1, y1, x2, y2), outline=colour, width=line)
        if detections.landmarks is not None:
            for px, py in detections.landmarks[i].astype(np.float64).tolist():
                if math.isfinite(px) and math.isfinite(py):
                    draw.ellipse((px - dot, py - dot, px + dot, py + dot), fill=LANDMARK_FILL, outline=LANDMARK_OUTLINE)
        text = labels[i] if labels is not None else f"{names[i]} {float(detections.confidence[i]):.2f}"
        if text:
            tags.append((x1, y1, text, colour))
    for x1, y1, text, colour in tags:  # tags last, so no other box crosses them
        text = _fit(text, font, w - 2 * pad, draw)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        tw, th = right - left + 2 * pad, bottom - top + 2 * pad
        ty = y1 - th if y1 - th >= 0 else min(y1, h - th)  # above the box, else inside at its top
        tx = min(max(0.0, x1), max(0.0, w - tw))
        draw.rectangle((tx, ty, tx + tw - 1, ty + th - 1), fill=colour)
        draw.text((tx + pad - left, ty + pad - top), text, fill=_text_colour(colour), font=font)
    return np.asarray(canvas).copy()


def montage(
    tiles: Sequence[np.ndarray[Any, Any]],
    *,
    tile_size: int = 160,
    columns: int | None = None,
    captions: Sequence[str] | None = None,
    title: str | None = None,
) -> np.ndarray[Any, Any]:
    """A grid of tiles on a neutral background, with optional captions under them and a title on top.

    Each tile is resized (up or down) to fit a ``tile_size`` square keeping its aspect ratio, and
    centred in it. ``columns`` defaults to ceil(sqrt(n)). The sheet is
    ``columns * tile_size + (columns + 1) * gap`` wide; captions and a title add height only. Long
    captions keep their end ("...0042.jpg q7.5"), long titles their start. No tiles give a sheet of
    one empty cell (with the title, if any).
    """
    if tile_size < 16:
        raise ValueError(f"tile_size must be at least 16, got {tile_size}")
    if columns is not None and columns < 1:
        raise ValueError(f"columns must be at least 1, got {columns}")
    if captions is not None and len(captions) != len(tiles):
        raise ValueError(f"got {len(captions)} captions for {len(tiles)} tiles")
    n = max(1, len(tiles))
    cols = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    gap = max(4, tile_size // 20)
    font = _font(max(10, tile_size // 12))
    title_font = _font(max(14, tile_size // 8))
    caption_h = _line_height(font) + gap if captions is not None else 0
    title_h = _line_height(title_font) + gap if title else 0
    width = cols * tile_size + (cols + 1) * gap
    height = title_h + rows * (tile_size + caption_h) + (rows + 1) * gap
    sheet = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((gap, gap), _fit(title, title_font, width - 2 * gap, draw), fill=TITLE_TEXT, font=title_font)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, cols)
        x0 = gap + c * (tile_size + gap)
        y0 = title_h + gap + r * (tile_size + caption_h + gap)
        rgb = _as_rgb(tile)
        th, tw = rgb.shape[:2]
        if th and tw:
            factor = tile_size / max(th, tw)
            size = (max(1, round(tw * factor)), max(1, round(th * factor)))
            picture = Image.fromarray(rgb).resize(size, Image.Resampling.LANCZOS)
            sheet.paste(picture, (x0 + (tile_size - size[0]) // 2, y0 + (tile_size - size[1]) // 2))
        if captions is not None and captions[i]:
            text = _fit(captions[i], font, tile_size, draw, keep_end=True)  # file names differ at their ends
            draw.text((x0, y0 + tile_size + gap // 2), text, fill=CAPTION_TEXT, font=font)
    return np.asarray(sheet).copy()


def save_image(image: np.ndarray[Any, Any], path: Path, *, quality: int = 90) -> Path:
    """Write a uint8 RGB (or gray, or RGBA) array as JPEG, PNG or WebP by the path's suffix.

    Parent folders are created. The picture goes to a temporary file beside the target, which is
    then renamed over it, so a reader never sees a half-written file; the temporary file is removed
    on failure. ``quality`` (1-100) applies to JPEG and WebP. JPEG drops an alpha channel.
    """
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(
            f"cannot write {str(path)!r}: unsupported image suffix {path.suffix!r}, "
            f"expected a suffix among {', '.join(FORMATS)}"
        )
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be 1 to 100, got {quality}")
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
        raise ValueError(f"image must be uint8 H×W, H×W×3 or H×W×4, got {image.dtype} {image.shape}")
    array = image[:, :, 0] if image.ndim == 3 and image.shape[2] == 1 else image
    if fmt == "JPEG" and array.ndim == 3:
        array = array[:, :, :3]
    picture = Image.fromarray(np.ascontiguousarray(array))
    options: dict[str, Any] = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    with atomic_write(path) as handle:
        picture.save(handle, format=fmt, **options)
    return path
