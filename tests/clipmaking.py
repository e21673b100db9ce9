"""Clips built in tests from real photos with PyAV: each photo held for some seconds (a hard cut
between photos), letterboxed onto one frame size."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import av
import numpy as np
from PIL import Image

from vidpipe.imaging.loading import load_image


def _fit(photo: Path, size: tuple[int, int]) -> np.ndarray:  # type: ignore[type-arg]
    picture = Image.fromarray(load_image(photo))
    picture.thumbnail(size, Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", size, (24, 24, 24))
    canvas.paste(picture, ((size[0] - picture.width) // 2, (size[1] - picture.height) // 2))
    return np.asarray(canvas)


def make_clip(
    path: Path, shots: Sequence[tuple[Path, float]], *, fps: int = 10, size: tuple[int, int] = (640, 480)
) -> Path:
    """An H.264 clip of ``shots`` (photo, seconds held) at ``fps``; a slight zoom keeps frames moving."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for photo, seconds in shots:
            still = _fit(photo, size)
            frames = max(1, round(seconds * fps))
            for n in range(frames):
                # A gentle push-in, as generated shots often have: 2 px per frame at most.
                crop = min(n, 20)
                moving = np.asarray(Image.fromarray(still[crop : size[1] - crop, crop : size[0] - crop]).resize(size))
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(moving), format="rgb24")
                for packet in stream.encode(frame):
                    container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
