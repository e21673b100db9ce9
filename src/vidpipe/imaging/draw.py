"""Pictures people look at: boxes drawn on photos, montages of crops, safe image writing."""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from vidpipe.domain.detections import Detections

# Distinct, readable colours (Tableau 10 and its light half), picked by class id.
PALETTE = (
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
    (174, 199, 232), (255, 187, 120), (152, 223, 138), (255, 152, 150), (197, 176, 213),
)  # fmt: skip
BACKGROUND = (236, 236, 236)
FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP"}


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=max(8, size))


def _text_colour(fill: tuple[int, int, int]) -> tuple[int, int, int]:
    luminance = 0.299 * fill[0] + 0.587 * fill[1] + 0.114 * fill[2]
    return (0, 0, 0) if luminance > 150 else (255, 255, 255)


def draw_detections(
    image: np.ndarray[Any, Any], detections: Detections, *, labels: Sequence[str] | None = None
) -> np.ndarray[Any, Any]:
    """A copy of an H×W×3 RGB image with each box, a "name score" tag and landmarks drawn."""
    canvas = Image.fromarray(np.ascontiguousarray(image))
    draw = ImageDraw.Draw(canvas)
    h, w = image.shape[:2]
    line = max(2, round(max(h, w) / 400))
    font = _font(round(max(h, w) / 55))
    names = detections.names
    for i in range(len(detections)):
        x1, y1, x2, y2 = (float(v) for v in detections.xyxy[i])
        colour = PALETTE[int(detections.class_id[i]) % len(PALETTE)]
        draw.rectangle((x1, y1, x2, y2), outline=colour, width=line)
        text = labels[i] if labels is not None else f"{names[i]} {float(detections.confidence[i]):.2f}"
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        tw, th = right - left + 2 * line, bottom - top + 2 * line
        ty = y1 - th if y1 - th >= 0 else y1  # above the box, or inside it at the top edge
        draw.rectangle((x1, ty, x1 + tw, ty + th), fill=colour)
        draw.text((x1 + line - left, ty + line - top), text, fill=_text_colour(colour), font=font)
        if detections.landmarks is not None:
            r = max(2, line)
            for px, py in detections.landmarks[i].tolist():
                draw.ellipse((px - r, py - r, px + r, py + r), fill=(255, 255, 0), outline=(0, 0, 0))
    return np.asarray(canvas)


def montage(
    tiles: Sequence[np.ndarray[Any, Any]],
    *,
    tile_size: int = 160,
    columns: int | None = None,
    captions: Sequence[str] | None = None,
    title: str | None = None,
) -> np.ndarray[Any, Any]:
    """A grid of tiles, each fitted into ``tile_size`` keeping its aspect, with optional captions and title."""
    n = max(1, len(tiles))
    cols = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    gap = max(4, tile_size // 20)
    font = _font(max(10, tile_size // 12))
    caption_h = (int(font.size) + gap if isinstance(font, ImageFont.FreeTypeFont) else 14) if captions else 0
    title_font = _font(max(14, tile_size // 8))
    title_h = (int(title_font.size) + 2 * gap if isinstance(title_font, ImageFont.FreeTypeFont) else 24) if title else 0
    width = cols * tile_size + (cols + 1) * gap
    height = title_h + rows * (tile_size + caption_h) + (rows + 1) * gap
    sheet = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((gap, gap), title, fill=(20, 20, 20), font=title_font)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, cols)
        x0 = gap + c * (tile_size + gap)
        y0 = title_h + gap + r * (tile_size + caption_h + gap)
        picture = Image.fromarray(np.ascontiguousarray(tile))
        picture.thumbnail((tile_size, tile_size), Image.Resampling.LANCZOS)
        sheet.paste(picture, (x0 + (tile_size - picture.width) // 2, y0 + (tile_size - picture.height) // 2))
        if captions is not None and i < len(captions):
            text = captions[i]
            while text and draw.textlength(text, font=font) > tile_size:
                text = text[1:]  # keep the end: file names differ at their ends
            draw.text((x0, y0 + tile_size + gap // 2), text, fill=(40, 40, 40), font=font)
    return np.asarray(sheet)


def save_image(image: np.ndarray[Any, Any], path: Path, *, quality: int = 90) -> Path:
    """Write an RGB array as JPEG/PNG/WebP by suffix, atomically (temporary file, then rename)."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"cannot write {str(path)!r}: expected a suffix among {', '.join(FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            options: dict[str, Any] = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
            Image.fromarray(np.ascontiguousarray(image)).save(handle, format=fmt, **options)
        os.replace(tmp_name, path)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return path
