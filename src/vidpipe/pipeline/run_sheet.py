"""A run's contact sheet, drawn from each photo's small stored tile rather than from the photos.

The sweep stores every photo fitted into `photo_analysis.TILE_SIDE` pixels; the sheet reads those
back, one tile at a time, already shrunk to its cell. Up to `USUAL_PHOTOS` photos the sheet has its
usual layout; beyond, its cells shrink and its columns grow so that the sheet stays near
`SHEET_PIXELS`: at 4 columns of 320-pixel cells a 1,000-photo sheet would be 97,000 pixels tall,
more than a JPEG may be (65,500) and 400 MB to draw.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from PIL import Image

from vidpipe.imaging.contact_sheet import MIN_CELL, SheetEntry, contact_sheet
from vidpipe.imaging.loading import load_pil
from vidpipe.pipeline.photo_analysis import TILE_SIDE

SHEET_PIXELS = 24_000_000
# A cell with its caption and gaps covers about this many times its own square.
CELL_AREA_FACTOR = 1.35
USUAL_PHOTOS = int(SHEET_PIXELS / (CELL_AREA_FACTOR * TILE_SIDE * TILE_SIDE))  # 173


class TileSource(Protocol):
    """What the sheet needs of the file store (any backend): a stored file's bytes by key."""

    def read_bytes(self, key: str) -> bytes: ...


@dataclass(frozen=True)
class SheetTile:
    tile_key: str
    name: str
    asset_type: str


def sheet_layout(photos: int) -> tuple[int | None, int]:
    """(columns, cell side) for a sheet of ``photos``; columns None means the sheet's own default."""
    if photos <= USUAL_PHOTOS:
        return None, TILE_SIDE
    cell = max(MIN_CELL, int(math.sqrt(SHEET_PIXELS / (CELL_AREA_FACTOR * photos))))
    # Near square: a cell is about CELL_AREA_FACTOR times as tall (caption) as it is wide.
    return math.ceil(math.sqrt(CELL_AREA_FACTOR * photos)), cell


def draw_sheet(store: TileSource, tiles: Sequence[SheetTile], *, title: str) -> np.ndarray[Any, Any]:
    """The numbered contact sheet of the photos whose tiles are given, in that order."""
    columns, cell = sheet_layout(len(tiles))
    entries = [SheetEntry(_tile(store, t, cell), t.name, t.asset_type) for t in tiles]
    return contact_sheet(entries, title=title, columns=columns, cell=cell)


def _tile(store: TileSource, tile: SheetTile, cell: int) -> np.ndarray[Any, Any]:
    picture = load_pil(store.read_bytes(tile.tile_key), name=tile.name)
    if max(picture.size) > cell:
        # What the sheet would do to it anyway, done now so that only cell-sized tiles are held.
        picture.thumbnail((cell, cell), Image.Resampling.LANCZOS)
    return np.asarray(picture)
