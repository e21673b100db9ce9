"""Small clips written with PyAV, for tests and demos: textured scenes, camera pans, hard cuts, fades to
black, dissolves, and audio-only files. Everything here is made from numbers, so the truth about each clip (where its
cuts are, which frames are black) is known exactly."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import numpy.typing as npt
from av.audio.stream import AudioStream
from av.video.stream import VideoStream

Image = npt.NDArray[np.uint8]


def scene(seed: int, width: int = 320, height: int = 240) -> Image:
    """A textured H×W×3 uint8 RGB picture unlike any other seed's: smooth colour blobs, bright and dark
    patches and a few hard edges, so that it is neither flat nor dark."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(40, 230, size=(6, 8, 3), dtype=np.uint8)
    picture = np.asarray(cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC), dtype=np.uint8)
    for _ in range(4):
        x, y = int(rng.integers(0, width - width // 4)), int(rng.integers(0, height - height // 4))
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        cv2.rectangle(picture, (x, y), (x + width // 5, y + height // 6), colour, thickness=-1)
    return picture


def pan(picture: Image, frames: int, pixels_per_frame: int = 1) -> Iterator[Image]:
    """``frames`` views of a picture as a camera panning right by ``pixels_per_frame`` (wrapping around)."""
    for n in range(frames):
        yield np.roll(picture, -n * pixels_per_frame, axis=1)


def fade(picture: Image, frames: int, *, to_black: bool = True) -> Iterator[Image]:
    """``frames`` frames fading the picture linearly to black (or in from black), ends excluded."""
    for n in range(1, frames + 1):
        share = n / (frames + 1)
        level = 1.0 - share if to_black else share
        yield np.asarray(np.rint(picture.astype(np.float32) * level), dtype=np.uint8)


def dissolve(first: Image, second: Image, frames: int) -> Iterator[Image]:
    """``frames`` frames cross-dissolving linearly from one picture to another, ends excluded."""
    for n in range(1, frames + 1):
        share = n / (frames + 1)
        yield np.asarray(np.rint(first * (1.0 - share) + second.astype(np.float32) * share), dtype=np.uint8)


def write_clip(
    path: str | os.PathLike[str],
    frames: Iterable[Image],
    *,
    fps: int = 24,
    codec: str = "libx264",
    rotation: int | None = None,
) -> Path:
    """Encode RGB frames (all the same even size) into a clip; ``rotation`` sets the display matrix
    (degrees counterclockwise, as `vidpipe.video.decoding.ClipInfo.rotation`)."""
    path = Path(path)
    with av.open(os.fspath(path), mode="w") as container:
        stream = container.add_stream(codec, rate=Fraction(fps))
        if not isinstance(stream, VideoStream):
            raise ValueError(f"{codec!r} is not a video codec")
        stream.pix_fmt = "yuv420p"
        if codec == "libx264":
            stream.options = {"crf": "18", "preset": "ultrafast"}
        opened = False
        for image in frames:
            if not opened:
                stream.height, stream.width = image.shape[:2]
                if rotation is not None:
                    stream.set_display_rotation(rotation)
                opened = True
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_tone(path: str | os.PathLike[str], seconds: float = 1.0, *, codec: str = "aac", rate: int = 44100) -> Path:
    """An audio-only file: a 440 Hz mono tone."""
    path = Path(path)
    with av.open(os.fspath(path), mode="w") as container:
        stream = container.add_stream(codec, rate=rate)
        if not isinstance(stream, AudioStream):
            raise ValueError(f"{codec!r} is not an audio codec")
        stream.layout = "mono"
        samples = np.sin(2 * np.pi * 440 * np.arange(int(seconds * rate)) / rate).astype(np.float32)
        chunk = stream.codec_context.frame_size or 1024
        fmt = stream.codec_context.format.name if stream.codec_context.format else "fltp"
        for start in range(0, len(samples), chunk):
            block = samples[start : start + chunk]
            data = (block * 32767).astype(np.int16) if fmt.startswith("s16") else block
            frame = av.AudioFrame.from_ndarray(data.reshape(1, -1), format=fmt, layout="mono")
            frame.rate = rate
            frame.pts = start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
