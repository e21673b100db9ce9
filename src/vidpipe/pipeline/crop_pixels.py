"""The exact pixels of a run's crops after the sweep has dropped them: cut again from their upload.

A crop's stored JPEG is close to its pixels but not equal, and the offline describer's colour names
are not robust to the difference (JPEG at quality 92 turned an "olive horse" white and a "cream
boat" grey). So the few crops a later step needs pixels of (each asset's primary for the describer,
the whole photos that become references) are cut again from their decoded upload, exactly as the
sweep cut them. Consecutive assets often come from one photo, so the last photo decoded is kept.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

import numpy as np

from vidpipe.db.models import Upload
from vidpipe.imaging.loading import load_image
from vidpipe.pipeline.photo_analysis import cut_view
from vidpipe.pipeline.planning import Crop

UInt8Image = np.ndarray[Any, np.dtype[np.uint8]]


class UploadSource(Protocol):
    """What this needs of the file store (any backend): a stored file's bytes by key."""

    def read_bytes(self, key: str) -> bytes: ...


class CropPixels:
    """Cuts crops from their decoded uploads, holding at most one decoded upload at a time."""

    def __init__(self, store: UploadSource) -> None:
        self.store = store
        self._last: tuple[uuid.UUID, UInt8Image] | None = None

    def of(self, crop: Crop) -> UInt8Image:
        return cut_view(self._photo(crop.upload), crop.kind, crop.box)

    def release(self) -> None:
        self._last = None

    def _photo(self, upload: Upload) -> UInt8Image:
        if self._last is None or self._last[0] != upload.id:
            self._last = None  # the previous photo goes before the next is decoded
            image = load_image(self.store.read_bytes(upload.storage_key), name=upload.original_filename)
            self._last = (upload.id, image)
        return self._last[1]
