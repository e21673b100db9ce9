"""Open a video clip safely and decode it once, in order, with timestamps from the start of the clip.

What every function here guarantees:

* Inputs are checked against `ClipLimits` (file size, pixels per frame, duration) before decoding, from the
  container header, and again while decoding, because headers can be missing (Matroska without a duration)
  or wrong.
* Anything wrong with the input (missing, empty, not a video, no video stream, truncated, corrupt, over a
  limit) is a `ClipError` naming the file and the reason; no PyAV or OS exception escapes.
* Timestamps are seconds from the clip's first frame: ``pts × time_base − the stream's start time``. That is
  right for variable frame rate and for streams that do not start at zero (edit lists, ``-itsoffset``), where
  ``frame_index / fps`` is not.
* `frame_to_rgb` gives the picture the way a player shows it: rotation applied, pixels square.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error
import numpy as np
import numpy.typing as npt
from av.container import InputContainer
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from vidpipe.errors import VidpipeError

# Where a file starts with one of these, it is a video container, so a file PyAV cannot open is a broken
# video (typically an MP4 cut short before its index), not some other kind of file.
_CONTAINER_MAGIC: tuple[tuple[int, bytes], ...] = (
    (4, b"ftyp"),  # ISO-BMFF: MP4, MOV, 3GP
    (0, b"\x1a\x45\xdf\xa3"),  # EBML: Matroska, WebM
    (0, b"RIFF"),  # AVI
    (0, b"OggS"),
    (0, b"FLV"),
    (0, b"\x00\x00\x01\xba"),  # MPEG program stream
    (0, b"\x47"),  # MPEG transport stream sync byte (weak, but only used to word the message)
)

# A decoder conceals an odd broken packet (FFmpeg's command line goes on too), but this many in a row means
# the rest of the file is garbage.
_MAX_BAD_PACKETS_IN_A_ROW = 8

# A clip that ends this much short of the duration its header declares for the video stream (as a share, and
# at least this many seconds) was cut short; the slack allows for the usual rounding of durations. Where only
# the whole container's duration is known and the file has audio too, the audio may legitimately outlast the
# picture, so only a clip that stops before half of it counts as cut short.
_SHORTFALL_SHARE = 0.1
_SHORTFALL_SECONDS = 0.5
_SHORTFALL_SHARE_CONTAINER = 0.5


class ClipError(VidpipeError):
    """A file could not be used as a video clip: the message names the file and says why."""

    status = 422

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        name = Path(path).name
        super().__init__(f"cannot use {name!r} as a video clip: {reason}")
        self.path = os.fspath(path)
        self.reason = reason


@dataclass(frozen=True)
class ClipLimits:
    """What a clip may cost before anything is decoded. The defaults allow a 10-minute 4K UHD clip."""

    max_pixels: int = 3840 * 2160
    """Pixels per stored frame (width × height)."""
    max_duration_seconds: float = 600.0
    max_bytes: int = 2 * 1024**3
    """File size in bytes."""


@dataclass(frozen=True)
class ClipInfo:
    """What the container header and the first frame say about a clip's video stream."""

    width: int
    """Displayed width in pixels: after the sample aspect ratio (square pixels) and the rotation."""
    height: int
    """Displayed height in pixels."""
    coded_width: int
    """Width of the frames as stored (what the decoder outputs)."""
    coded_height: int
    rotation: int
    """Display rotation in degrees counterclockwise (FFmpeg's display-matrix convention), one of −90, 0, 90,
    180; −90 means players turn the stored picture a quarter turn clockwise."""
    sample_aspect_ratio: float
    """Width of one stored pixel over its height as displayed (1.0 for square pixels)."""
    fps: float
    """Average frames per second (frames over duration; differs from the nominal rate for variable frame rate)."""
    duration_seconds: float | None
    """Duration of the video stream from the header; None where the container does not say."""
    frames: int | None
    """Frame count from the header; None where the container does not say."""
    codec: str
    start_seconds: float
    """The stream's start time in the container; timestamps here are counted from it."""
    container: str
    """The container format as FFmpeg names it (for example ``"mov,mp4,m4a,3gp,3g2,mj2"``)."""
    size_bytes: int


@dataclass(frozen=True)
class DecodedFrame:
    """One decoded frame in presentation order."""

    index: int
    """0-based position in decode (presentation) order."""
    seconds: float
    """Seconds from the start of the clip."""
    frame: VideoFrame


class Clip:
    """An open clip: its `info`, and its frames through one sequential decode (`frames`, once)."""

    def __init__(self, path: Path, limits: ClipLimits, container: InputContainer, size_bytes: int) -> None:
        self._path = path
        self._limits = limits
        self._container = container
        self._stream = _video_stream(path, container)
        # Frame threads and slice threads as the codec allows: the decode is the bulk of the work.
        self._stream.thread_type = "AUTO"
        self._origin: int | None = self._stream.start_time
        self._decoded = self._decode()
        self._check_header(size_bytes)
        first = self._first_frame()
        self._first: VideoFrame | None = first
        self.info = self._info(first, size_bytes)
        self._check_pixels(first.width, first.height)
        self._used = False

    def frames(self) -> Iterator[DecodedFrame]:
        """Yield every frame once, in presentation order, with seconds from the start of the clip.

        Raises:
            ClipError: The clip turns out truncated or corrupt, longer than the limit, or over the pixel
                limit part way through.
        """
        if self._used:
            raise RuntimeError("Clip.frames() can only be iterated once: the decode is sequential")
        self._used = True
        index, last = 0, -math.inf
        step = 1.0 / self.info.fps if self.info.fps > 0 else 0.0
        frame: VideoFrame | None = self._first
        self._first = None
        while frame is not None:
            seconds = self._seconds(frame, last + step if index else 0.0)
            if seconds > self._limits.max_duration_seconds:
                raise ClipError(
                    self._path,
                    f"the video is longer than the limit of {self._limits.max_duration_seconds:g} s "
                    f"(it has a frame at {seconds:.2f} s)",
                )
            self._check_pixels(frame.width, frame.height)
            yield DecodedFrame(index, seconds, frame)
            index, last = index + 1, seconds
            frame = next(self._decoded, None)
        self._check_complete(last + step)

    def _seconds(self, frame: VideoFrame, fallback: float) -> float:
        if frame.pts is None:
            return fallback  # no timestamp (some AVI and raw streams): one average frame after the last
        if self._origin is None:
            self._origin = frame.pts
        time_base = frame.time_base or self._stream.time_base or Fraction(1, 1)
        # A frame before the stream's declared start (edit-list slack) is shown at the start.
        return max(0.0, float((frame.pts - self._origin) * time_base))

    def _decode(self) -> Iterator[VideoFrame]:
        """Decoded frames in order; a broken packet is skipped, as FFmpeg's command line does, unless many
        follow in a row; a failing read ends in a ClipError."""
        bad_in_a_row, decoded = 0, 0
        try:
            for packet in self._container.demux(self._stream):
                try:
                    frames = packet.decode()
                except (av.error.InvalidDataError, av.error.UndefinedError, av.error.BugError) as exc:
                    bad_in_a_row += 1
                    if bad_in_a_row >= _MAX_BAD_PACKETS_IN_A_ROW:
                        raise ClipError(
                            self._path, f"the file is corrupt: decoding failed after {decoded} frame(s) ({exc})"
                        ) from None
                    continue
                bad_in_a_row = 0
                for frame in frames:
                    decoded += 1
                    yield frame
        except (av.error.FFmpegError, OSError) as exc:
            raise ClipError(
                self._path, f"the file is truncated or corrupt: reading failed after {decoded} frame(s) ({exc})"
            ) from None

    def _first_frame(self) -> VideoFrame:
        first = next(self._decoded, None)
        if first is None:
            raise ClipError(self._path, "the file is truncated or corrupt: no frame could be decoded")
        return first

    def _check_header(self, size_bytes: int) -> None:
        context = self._stream.codec_context
        if context.width and context.height:
            self._check_pixels(context.width, context.height)
        duration, _ = _declared_duration(self._stream, self._container)
        if duration is not None and duration > self._limits.max_duration_seconds:
            raise ClipError(self._path, _over_duration(duration, self._limits))

    def _check_pixels(self, width: int, height: int) -> None:
        if width * height > self._limits.max_pixels:
            raise ClipError(
                self._path,
                f"the video is {width}×{height} = {width * height:,} pixels per frame, "
                f"above the limit of {self._limits.max_pixels:,}",
            )

    def _check_complete(self, decoded_seconds: float) -> None:
        """Refuse a clip that stopped well short of the duration its header declares (cut short after the
        header was written, as an interrupted upload or render leaves it)."""
        declared, of_video = _declared_duration(self._stream, self._container)
        if declared is None:
            return
        share = _SHORTFALL_SHARE if of_video else _SHORTFALL_SHARE_CONTAINER
        if decoded_seconds < declared * (1 - share) - _SHORTFALL_SECONDS:
            raise ClipError(
                self._path,
                f"the file is truncated or corrupt: it holds {decoded_seconds:.2f} s of video, "
                f"but its header says {declared:.2f} s",
            )

    def _info(self, first: VideoFrame, size_bytes: int) -> ClipInfo:
        stream, container = self._stream, self._container
        sar = _sample_aspect_ratio(stream)
        rotation = _quarter_turn(first.rotation)
        width, height = display_size(first.width, first.height, sar, rotation)
        duration, _ = _declared_duration(stream, container)
        start = float(stream.start_time * stream.time_base) if stream.start_time is not None and stream.time_base else 0
        return ClipInfo(
            width=width,
            height=height,
            coded_width=first.width,
            coded_height=first.height,
            rotation=rotation,
            sample_aspect_ratio=sar,
            fps=_average_fps(stream, duration),
            duration_seconds=duration,
            frames=stream.frames or _tag_number(stream, "NUMBER_OF_FRAMES"),
            codec=stream.codec_context.name,
            start_seconds=float(start),
            container=container.format.name,
            size_bytes=size_bytes,
        )


@contextlib.contextmanager
def open_clip(path: str | os.PathLike[str], limits: ClipLimits = ClipLimits()) -> Iterator[Clip]:
    """Open a clip, check it against ``limits`` and decode its first frame; close it on leaving.

    Raises:
        ClipError: The file is missing, empty, too large, not a video, has no video stream, is truncated or
            corrupt, or is over a limit.
    """
    path = Path(path)
    size = _file_size(path, limits)
    try:
        container = av.open(os.fspath(path), mode="r")
    except (av.error.FFmpegError, OSError) as exc:
        raise ClipError(path, _unopenable(path, exc)) from None
    with container:
        yield Clip(path, limits, container, size)


def probe_clip(path: str | os.PathLike[str], limits: ClipLimits = ClipLimits()) -> ClipInfo:
    """What a clip is (sizes, rotation, rate, duration, codec), from its header and first frame.

    Raises:
        ClipError: As `open_clip`.
    """
    with open_clip(path, limits) as clip:
        return clip.info


def decode_frames(path: str | os.PathLike[str], limits: ClipLimits = ClipLimits()) -> Iterator[DecodedFrame]:
    """Every frame of a clip once, in presentation order, with seconds from its start (threaded decode,
    no seeking).

    Raises:
        ClipError: As `open_clip`, or part way through, where the clip turns out truncated, corrupt or over
            a limit.
    """
    with open_clip(path, limits) as clip:
        yield from clip.frames()


def display_size(width: int, height: int, sample_aspect_ratio: float, rotation: int) -> tuple[int, int]:
    """(width, height) in pixels of a stored ``width``×``height`` picture as a player shows it: pixels made
    square by widening (or narrowing) the picture, then a quarter turn swapping the sides."""
    square_width = max(1, round(width * sample_aspect_ratio))
    return (height, square_width) if _quarter_turn(rotation) % 180 else (square_width, height)


def frame_to_rgb(
    frame: VideoFrame,
    *,
    sample_aspect_ratio: float = 1.0,
    rotation: int | None = None,
    max_side: int = 1280,
) -> npt.NDArray[np.uint8]:
    """A decoded frame as a C-contiguous H×W×3 uint8 RGB array the way players show it.

    Pixels are made square (``sample_aspect_ratio``: `ClipInfo.sample_aspect_ratio`), the longer side is
    at most ``max_side`` pixels (never enlarged), and the picture is turned by ``rotation`` degrees
    counterclockwise (None: the frame's own display matrix). The scaling is one swscale call in C.
    """
    turn = _quarter_turn(frame.rotation if rotation is None else rotation)
    width, height = display_size(frame.width, frame.height, sample_aspect_ratio, 0)
    scale = min(1.0, max_side / max(width, height))
    rgb = frame.reformat(
        width=max(1, round(width * scale)),
        height=max(1, round(height * scale)),
        format="rgb24",
        interpolation="AREA",  # averages the pixels a shrink drops, where bilinear aliases
    ).to_ndarray()
    # np.rot90 turns counterclockwise, as the display matrix counts.
    return np.ascontiguousarray(np.rot90(rgb, turn // 90) if turn else rgb, dtype=np.uint8)


def _file_size(path: Path, limits: ClipLimits) -> int:
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise ClipError(path, "no such file") from None
    except OSError as exc:
        raise ClipError(path, f"cannot read the file ({exc.strerror or exc})") from None
    if path.is_dir():
        raise ClipError(path, "is a directory")
    if stat.st_size == 0:
        raise ClipError(path, "the file is empty (zero bytes)")
    if stat.st_size > limits.max_bytes:
        raise ClipError(path, f"the file is {stat.st_size:,} bytes, above the limit of {limits.max_bytes:,} bytes")
    return stat.st_size


def _unopenable(path: Path, exc: Exception) -> str:
    """Say why PyAV could not open the file."""
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, av.error.InvalidDataError):
        if _looks_like_video(path):
            return "the file is truncated or corrupt (its container cannot be read)"
        return "not a video file (unrecognised format)"
    reason = getattr(exc, "strerror", None) or str(exc)
    return f"the file cannot be opened as a video ({reason})"


def _looks_like_video(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            head = handle.read(16)
    except OSError:
        return False
    return any(head[offset : offset + len(magic)] == magic for offset, magic in _CONTAINER_MAGIC)


def _video_stream(path: Path, container: InputContainer) -> VideoStream:
    if container.streams.video:
        return container.streams.video[0]
    kinds = sorted({stream.type for stream in container.streams})
    has = f"it has only {', '.join(kinds)} stream(s)" if kinds else "it has no streams at all"
    raise ClipError(path, f"no video stream ({has})")


def _declared_duration(stream: VideoStream, container: InputContainer) -> tuple[float | None, bool]:
    """(seconds, whether they are the video stream's own) from the header: the stream's duration, else its
    Matroska ``DURATION`` tag (mkvmerge and FFmpeg write one per track), else the container's; None where
    none is known. The container's duration is the video's own where there is no audio or other video."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base), True
    tagged = _tag(stream, "DURATION")
    if tagged is not None:
        with contextlib.suppress(ValueError):
            hours, minutes, seconds = tagged.split(":")
            return int(hours) * 3600 + int(minutes) * 60 + float(seconds), True
    if container.duration:
        others = [s for s in container.streams if s.type in ("audio", "video") and s.index != stream.index]
        return container.duration / av.time_base, not others
    return None, False


def _tag(stream: VideoStream, name: str) -> str | None:
    """A stream metadata tag, also in Matroska's language-suffixed form (``DURATION-eng``)."""
    for key, value in stream.metadata.items():
        if key.upper() == name or key.upper().startswith(name + "-"):
            return str(value)
    return None


def _tag_number(stream: VideoStream, name: str) -> int | None:
    value = _tag(stream, name)
    return int(value) if value is not None and value.isdigit() and int(value) > 0 else None


def _average_fps(stream: VideoStream, duration: float | None) -> float:
    # The average rate, not the nominal one: a variable-frame-rate phone clip may declare 90000 fps.
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            return float(rate)
    if stream.frames and duration:
        return stream.frames / duration
    return 0.0


def _sample_aspect_ratio(stream: VideoStream) -> float:
    # 0/1 and None both mean "unknown", which players take as square.
    for ratio in (stream.sample_aspect_ratio, stream.codec_context.sample_aspect_ratio):
        if ratio:
            return float(ratio)
    return 1.0


def _quarter_turn(rotation: float) -> int:
    """A rotation in degrees as the nearest quarter turn in (−180, 180]: the only turns players apply."""
    turn = round(rotation / 90) % 4 * 90
    return turn - 360 if turn > 180 else turn


def _over_duration(seconds: float, limits: ClipLimits) -> str:
    return f"the video is {seconds:.1f} s long, above the limit of {limits.max_duration_seconds:g} s"
