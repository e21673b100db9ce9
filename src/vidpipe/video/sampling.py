"""Pick the few most informative frames of a clip, and find its hard cuts, in ONE sequential decode.

How a frame is judged (all on a small grey copy, about 160 pixels wide, shrunk in C from the luma plane):

* Motion: the share of pixels whose grey level changed by more than 30 since the previous frame.
* Cut: a motion spike over the threshold that stands clear of the frames around it, confirmed by a jump
  of the grey-level histogram (continuous camera motion moves pixels but keeps their histogram; a fade or
  a dissolve changes little from one frame to the next), or by an overwhelming spike where the histogram
  barely changes (a cut between two shots of the same tones). Shots are the spans between cuts.
* Black: very dark and flat. Never chosen.
* Dim: dark with a little detail, such as a caption on black. Chosen only where a shot offers nothing better.
* In a transition: the frame is (close to) the average of the frames a few steps before and after it while
  those two differ, as in a fade or a dissolve, and the change is not motion (which alters edges more than
  flat areas, or shifts the whole picture). Chosen only where a shot offers nothing better.

A frame is judged a few frames late (a delay line), once the frames after it are known.

What is chosen, at most ``max_frames``, most informative first:

1. one frame per shot, about 0.3 s after its cut (mid-shot for shots under 0.6 s), so that every shot is
   seen whenever there are no more shots than ``max_frames`` (otherwise the longest shots);
2. the base frames: the first, the last, and those at 2 s, 4 s and 6 s where the clip is that long;
3. the frames of strongest motion (over ``motion_delta_threshold``), at least 0.5 s apart.

Each target takes the nearest frame in the same shot, preferring clean frames to dim ones and dim ones to
frames in a transition. Only references to a bounded pool of candidate frames are kept while decoding;
the chosen frames are converted to RGB at the end.
"""

from __future__ import annotations

import functools
import heapq
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt
from av.video.frame import VideoFrame

from vidpipe.video.decoding import ClipInfo, ClipLimits, frame_to_rgb, open_clip

REASONS = ("first", "2s", "4s", "6s", "last", "shot", "motion")
"""Why a frame was chosen, in order of priority within the base frames."""

# ---------------------------------------------------------------- per-frame measures

# Width in pixels of the grey copy every measure is taken on: enough to see a cut or a caption, cheap enough
# to make for every frame.
_GREY_WIDTH = 160
# Grey levels a pixel must change by to count as changed (noise and compression stay well under it).
_CHANGE_LEVEL = 30
_HISTOGRAM_BINS = 32
# 8-bit pixel formats whose first plane is the grey (luma) picture. Shrinking that plane with OpenCV's area
# filter costs a quarter of what swscale's grey conversion does (0.2 ms against 0.9 ms per 720p frame);
# other formats (RGB, palette, 10-bit) go through swscale.
_LUMA_FORMATS = frozenset(
    {"yuv420p", "yuv422p", "yuv444p", "yuv410p", "yuv411p", "yuv440p", "nv12", "nv21", "gray"}
    | {"yuvj420p", "yuvj422p", "yuvj444p", "yuvj440p"}
)
_FULL_RANGE = 2  # AVCOL_RANGE_JPEG: luma uses 0–255 rather than video's 16–235

# Frames on each side a cut must stand out from, and the step of the transition test.
_RADIUS = 4
_BLEND_STEP = 3

# A cut: a motion spike this many times the strongest motion around it, with a histogram change this many
# times the strongest around it and at least this large (a share of pixels moving between bins); or, without
# the histogram, a motion spike this many times the strongest around it.
_CUT_MOTION_RATIO = 1.5
_CUT_HISTOGRAM_RATIO = 2.5
_CUT_HISTOGRAM_MIN = 0.1
_CUT_LONE_SPIKE_RATIO = 8.0
# Shortest shot in seconds; a second spike closer than this to a cut is the same transition.
_MIN_SHOT_SECONDS = 0.2

# Black: mean grey under _DARK_MEAN and standard deviation under _BLACK_STD (full-range grey, 0–255).
# Dim: as dark, with a standard deviation under _DIM_STD: a caption or a logo on black.
_DARK_MEAN = 24.0
_BLACK_STD = 2.0
_DIM_STD = 12.0
# In a transition: frames before and after differ by at least _BLEND_MIN grey levels on average, and the
# frame is within _BLEND_SHARE of that from their average.
_BLEND_MIN = 4.0
_BLEND_SHARE = 0.3
# A fade: the mean grey level moves by at least this share of the average change. A dissolve: the flatter
# half of the picture changes by at least this share of the average change (motion changes edges, not flat
# areas: measured 0.05–0.55 on pans, zooms and moving subjects, 0.61–1.3 on dissolves and fades). Camera
# motion: the whole picture shifts by at least _PAN_MIN_PIXELS (of the grey copy, over 2 × _BLEND_STEP
# frames) with a phase-correlation peak of at least _PAN_MIN_RESPONSE (a dissolve has no clear peak).
_FADE_SHARE = 0.5
_DISSOLVE_FLAT_SHARE = 0.58
_PAN_MIN_PIXELS = 0.5
_PAN_MIN_RESPONSE = 0.3

# Choice tiers, best first. A black frame is never chosen.
_CLEAN, _DIM, _BLENDED, _BLACK = 0, 1, 2, 3

# ---------------------------------------------------------------- choices

_SHOT_OFFSET_SECONDS = 0.3  # a shot's frame: this long after its cut, where the picture has settled
_BASE_SECONDS = (("2s", 2.0), ("4s", 4.0), ("6s", 6.0))
_MOTION_SPACING_SECONDS = 0.5  # motion frames closer than this show the same moment
# A base or motion frame this close to a frame already chosen in the same shot adds its reason to that frame
# instead of taking a place of its own: the two would show the same picture.
_MERGE_SECONDS = 0.25
_SHOT_KEEP = 4  # frames kept (decimated) from a shot's opening, to find the middle of a short shot


@dataclass(frozen=True)
class SampledFrame:
    """A chosen frame."""

    index: int
    """0-based position in decode order."""
    seconds: float
    """Seconds from the start of the clip."""
    image: npt.NDArray[np.uint8]
    """H×W×3 uint8 RGB as players show it (rotation applied, square pixels), longer side at most ``max_side``."""
    reasons: tuple[str, ...]
    """Why it was chosen, from `REASONS`."""
    motion: float
    """Share (0–1) of pixels that changed by more than 30 grey levels since the previous frame."""
    shot: int
    """0-based number of the shot the frame is in."""


@dataclass(frozen=True)
class SamplingResult:
    """What `sample_clip` found in one decode of a clip."""

    info: ClipInfo
    frames: list[SampledFrame]
    """Chosen frames, sorted by time."""
    cuts_seconds: list[float]
    """Detected hard cuts: the time of the first frame of each new shot."""
    shots: int
    """Detected shots: cuts + 1."""
    decoded_frames: int
    seconds: float
    """Wall time of the whole sampling (decode and conversion), in seconds."""


def sample_clip(
    path: str | os.PathLike[str],
    *,
    motion_delta_threshold: float = 0.15,
    max_frames: int = 8,
    max_side: int = 1280,
    limits: ClipLimits = ClipLimits(),
) -> SamplingResult:
    """Decode a clip once and return its most informative frames and its hard cuts (see the module doc).

    Args:
        path: The clip.
        motion_delta_threshold: Share of pixels (0–1) that must change by more than 30 grey levels between
            consecutive frames for a motion frame or a cut.
        max_frames: At most this many frames are returned (at least one, unless the clip has no frame).
        max_side: Longer side in pixels of the returned images.
        limits: Size, pixel and duration limits of the clip.

    Raises:
        ClipError: The clip cannot be used (see `vidpipe.video.decoding.open_clip`).
    """
    if max_frames < 1:
        raise ValueError(f"max_frames must be at least 1, not {max_frames}")
    start = time.perf_counter()
    with open_clip(path, limits) as clip:
        judge = _Judge(motion_delta_threshold)
        chooser = _Chooser(max_frames, motion_delta_threshold)
        decoded = 0
        for decoded_frame in clip.frames():
            decoded += 1
            for judged in judge.push(_measure(decoded_frame.index, decoded_frame.seconds, decoded_frame.frame)):
                chooser.offer(judged)
        for judged in judge.flush():
            chooser.offer(judged)
        picks = chooser.finish()
        frames = [
            SampledFrame(
                index=pick.index,
                seconds=pick.seconds,
                image=frame_to_rgb(pick.frame, sample_aspect_ratio=clip.info.sample_aspect_ratio, max_side=max_side),
                reasons=reasons,
                motion=pick.motion,
                shot=pick.shot,
            )
            for pick, reasons in picks
        ]
        info = clip.info
    return SamplingResult(
        info=info,
        frames=frames,
        cuts_seconds=judge.cuts_seconds,
        shots=len(judge.cuts_seconds) + 1,
        decoded_frames=decoded,
        seconds=time.perf_counter() - start,
    )


# ---------------------------------------------------------------- measuring and judging frames


@dataclass(eq=False)
class _Frame:
    """A decoded frame with its measures; ``cut``, ``shot`` and ``tier`` are set once it is judged."""

    index: int
    seconds: float
    frame: VideoFrame
    grey: npt.NDArray[np.float32]
    histogram: npt.NDArray[np.float64]
    mean: float
    std: float
    motion: float = 0.0
    histogram_change: float = 0.0
    cut: bool = False
    shot: int = 0
    tier: int = _CLEAN


def _measure(index: int, seconds: float, frame: VideoFrame) -> _Frame:
    grey = _small_grey(frame)
    levels = np.clip(grey, 0, 255).astype(np.uint8) >> 3
    histogram = np.bincount(levels.ravel(), minlength=_HISTOGRAM_BINS) / grey.size
    return _Frame(index, seconds, frame, grey, histogram, float(grey.mean()), float(grey.std()))


def _small_grey(frame: VideoFrame) -> npt.NDArray[np.float32]:
    """The frame as full-range grey levels (0–255), about `_GREY_WIDTH` pixels wide, stored shape."""
    size = (_GREY_WIDTH, max(1, round(_GREY_WIDTH * frame.height / max(frame.width, 1))))
    name = frame.format.name
    if name not in _LUMA_FORMATS:
        small = frame.reformat(width=size[0], height=size[1], format="gray").to_ndarray()
        return np.asarray(small, dtype=np.float32)
    plane = frame.planes[0]
    luma = np.frombuffer(memoryview(plane), np.uint8, count=plane.line_size * plane.height)
    luma = luma.reshape(plane.height, plane.line_size)[:, : plane.width]
    small = np.asarray(cv2.resize(luma, size, interpolation=cv2.INTER_AREA), dtype=np.float32)
    if name.startswith("yuvj") or name == "gray" or frame.color_range == _FULL_RANGE:
        return small
    return np.asarray(np.clip((small - 16.0) * (255.0 / 219.0), 0.0, 255.0), dtype=np.float32)


class _Judge:
    """The delay line: measures motion as frames arrive, and judges each frame (cut, shot, tier) once the
    `_RADIUS` frames after it are known."""

    def __init__(self, motion_threshold: float) -> None:
        self.motion_threshold = motion_threshold
        self.cuts_seconds: list[float] = []
        self._window: list[_Frame] = []
        self._next = 0  # position in _window of the next frame to judge
        self._shot = 0
        self._last_cut = 0.0

    def push(self, frame: _Frame) -> Iterator[_Frame]:
        """Take the next decoded frame; yield the frames that can now be judged, in order."""
        if self._window:
            previous = self._window[-1]
            frame.motion = float((np.abs(frame.grey - previous.grey) > _CHANGE_LEVEL).mean())
            frame.histogram_change = float(np.abs(frame.histogram - previous.histogram).sum() / 2)
        self._window.append(frame)
        while len(self._window) - self._next > _RADIUS:
            yield self._judge(self._next)
            self._next += 1
        # Keep only the frames still needed as the earlier neighbours of the next frame to judge.
        drop = self._next - _RADIUS
        if drop > 0:
            del self._window[:drop]
            self._next -= drop

    def flush(self) -> Iterator[_Frame]:
        """Judge the frames left at the end of the clip."""
        while self._next < len(self._window):
            yield self._judge(self._next)
            self._next += 1
        self._window.clear()
        self._next = 0

    def _judge(self, at: int) -> _Frame:
        frame = self._window[at]
        if self._is_cut(at):
            frame.cut = True
            self._shot += 1
            self._last_cut = frame.seconds
            self.cuts_seconds.append(frame.seconds)
        frame.shot = self._shot
        frame.tier = self._tier(at)
        return frame

    def _is_cut(self, at: int) -> bool:
        frame = self._window[at]
        if frame.index == 0 or frame.motion <= self.motion_threshold:
            return False
        if frame.seconds - self._last_cut < _MIN_SHOT_SECONDS:
            return False
        around = self._window[max(0, at - _RADIUS) : at] + self._window[at + 1 : at + _RADIUS + 1]
        motion_around = max((f.motion for f in around), default=0.0)
        histogram_around = max((f.histogram_change for f in around), default=0.0)
        # Ratios against a floor, so that a spike out of perfect stillness is finite.
        motion_ratio = frame.motion / max(motion_around, 1e-3)
        histogram_ratio = frame.histogram_change / max(histogram_around, 1e-3)
        confirmed = frame.histogram_change >= _CUT_HISTOGRAM_MIN and histogram_ratio >= _CUT_HISTOGRAM_RATIO
        return (motion_ratio >= _CUT_MOTION_RATIO and confirmed) or motion_ratio >= _CUT_LONE_SPIKE_RATIO

    def _tier(self, at: int) -> int:
        frame = self._window[at]
        if frame.mean < _DARK_MEAN and frame.std < _BLACK_STD:
            return _BLACK
        before = self._window[max(0, at - _BLEND_STEP)].grey
        after = self._window[min(len(self._window) - 1, at + _BLEND_STEP)].grey
        if _in_transition(before, frame.grey, after):
            return _BLENDED
        if frame.mean < _DARK_MEAN and frame.std < _DIM_STD:
            return _DIM
        return _CLEAN


def _in_transition(
    before: npt.NDArray[np.float32], frame: npt.NDArray[np.float32], after: npt.NDArray[np.float32]
) -> bool:
    """Whether ``frame`` is part of a fade or a dissolve between ``before`` and ``after``.

    It is, where it is close to their average while they differ, and the change is not the camera or the
    subject moving, which over smooth surfaces passes the average test too. Motion changes pixels where
    the picture has edges and leaves flat areas alike; a dissolve changes flat areas as much as edges. And
    where the whole picture shifts (a pan), phase correlation measures the shift. A fade (the brightness of
    most pixels going one way) counts even while the camera moves.
    """
    change = np.abs(after - before)
    apart = float(change.mean())
    if apart < _BLEND_MIN or float(np.abs(frame - (before + after) / 2).mean()) > _BLEND_SHARE * apart:
        return False
    if abs(float(after.mean() - before.mean())) >= _FADE_SHARE * apart:
        return True
    edges = np.abs(cv2.Sobel(frame, cv2.CV_32F, 1, 0)) + np.abs(cv2.Sobel(frame, cv2.CV_32F, 0, 1))
    flat = edges <= np.median(edges)
    if float(change[flat].mean()) < _DISSOLVE_FLAT_SHARE * apart:
        return False
    # Windowed here rather than by phaseCorrelate's own window argument, which (OpenCV 5) overwrites the
    # inputs: these grey copies are still needed.
    window = _hanning(before.shape)
    (dx, dy), response = cv2.phaseCorrelate(before * window, after * window)
    return bool(math.hypot(dx, dy) < _PAN_MIN_PIXELS or response < _PAN_MIN_RESPONSE)


@functools.cache
def _hanning(shape: tuple[int, ...]) -> npt.NDArray[np.float32]:
    return np.asarray(cv2.createHanningWindow((shape[1], shape[0]), cv2.CV_32F), dtype=np.float32)


# ---------------------------------------------------------------- choosing frames


class _Nearest:
    """The frame nearest a target time within the shot the target falls in, best tier first.

    Fed every judged frame in order. Holds at most ``2 × keep`` frames of the best tier seen before the
    target (decimated, so they stay spread over the shot) and the first frame of each tier after it.
    """

    def __init__(self, target: float, keep: int = 1) -> None:
        self.target = target
        self.keep = keep
        self.done = False
        self.reached = False  # a frame at or after the target exists (the clip is that long)
        self._before: list[_Frame] = []
        self._before_tier = _BLACK
        self._after: dict[int, _Frame] = {}
        self._last_seconds = -math.inf

    def offer(self, frame: _Frame) -> None:
        if self.done:
            return
        if frame.seconds < self.target:
            if frame.cut:
                self._before, self._before_tier = [], _BLACK  # a new shot: what came before is another shot
            self._offer_before(frame)
        elif not self.reached:
            self.reached = True
            if frame.cut:
                # The target falls on the shot of whichever frame is nearer to it.
                if self.target - self._last_seconds < frame.seconds - self.target:
                    self.done = True
                    return
                self._before, self._before_tier = [], _BLACK
            self._offer_after(frame)
        elif frame.cut:
            self.done = True
        else:
            self._offer_after(frame)
        self._last_seconds = frame.seconds

    def best(self, target: float | None = None) -> _Frame | None:
        """The chosen frame, nearest ``target`` (default: the target given) within the best tier."""
        aim = self.target if target is None else target
        for tier in (_CLEAN, _DIM, _BLENDED):
            candidates = ([*self._before] if self._before_tier == tier else []) + (
                [self._after[tier]] if tier in self._after else []
            )
            if candidates:
                return min(candidates, key=lambda f: abs(f.seconds - aim))
        return None

    def _best_tier(self) -> int:
        return min([self._before_tier, *self._after])

    def _offer_before(self, frame: _Frame) -> None:
        if frame.tier > self._before_tier or frame.tier == _BLACK:
            return
        if frame.tier < self._before_tier:
            self._before, self._before_tier = [], frame.tier
        self._before.append(frame)
        if len(self._before) >= 2 * self.keep:
            self._before = self._before[1::2]  # halve, keeping the latest and an even spread

    def _offer_after(self, frame: _Frame) -> None:
        if frame.tier == _BLACK or frame.tier in self._after or frame.tier > self._best_tier():
            return
        self._after[frame.tier] = frame
        if frame.tier == _CLEAN:
            self.done = True  # nothing after this can be nearer or better


class _Last:
    """The latest frame of the best tier in the final shot."""

    def __init__(self) -> None:
        self.frame: _Frame | None = None

    def offer(self, frame: _Frame) -> None:
        if frame.cut:
            self.frame = None
        if frame.tier != _BLACK and (self.frame is None or frame.tier <= self.frame.tier):
            self.frame = frame


@dataclass(order=True)
class _ShotPick:
    """A shot's chosen frame; orders by shot length so that the shortest is dropped first."""

    length: float
    shot: int
    frame: _Frame = field(compare=False)


class _Chooser:
    """Keeps the candidate frames (a bounded pool) while frames are judged, and chooses at the end."""

    def __init__(self, max_frames: int, motion_threshold: float) -> None:
        self.max_frames = max_frames
        self.motion_threshold = motion_threshold
        self._first_frame: _Frame | None = None
        self._first = _Nearest(0.0)
        self._bases = [(reason, _Nearest(seconds)) for reason, seconds in _BASE_SECONDS]
        self._last = _Last()
        self._shot_start = 0.0
        self._shot_last = 0.0
        self._shot = _Nearest(_SHOT_OFFSET_SECONDS, keep=_SHOT_KEEP)
        self._shot_picks: list[_ShotPick] = []  # a min-heap by shot length
        self._motion: list[_Frame] = []

    def offer(self, frame: _Frame) -> None:
        if self._first_frame is None:
            self._first_frame = frame
        if frame.cut:
            self._close_shot()
            self._shot_start = frame.seconds
            self._shot = _Nearest(frame.seconds + _SHOT_OFFSET_SECONDS, keep=_SHOT_KEEP)
        self._shot_last = frame.seconds
        self._shot.offer(frame)
        self._first.offer(frame)
        for _, base in self._bases:
            base.offer(frame)
        self._last.offer(frame)
        if frame.motion > self.motion_threshold and not frame.cut and frame.tier == _CLEAN:
            self._offer_motion(frame)

    def finish(self) -> list[tuple[_Frame, tuple[str, ...]]]:
        """The chosen frames with their reasons, sorted by time."""
        self._close_shot()
        ranked: list[tuple[_Frame | None, str]] = [(p.frame, "shot") for p in sorted(self._shot_picks, key=_shot_of)]
        ranked.append((self._first.best(), "first"))
        ranked.append((self._last.frame, "last"))
        ranked.extend((base.best(), reason) for reason, base in self._bases if base.reached)
        ranked.extend((f, "motion") for f in sorted(self._motion, key=lambda f: -f.motion))
        chosen: dict[int, tuple[_Frame, list[str]]] = {}
        for frame, reason in ranked:
            if frame is None:
                continue
            same = frame.index if frame.index in chosen else None
            if same is None and reason != "shot":
                same = next((i for i, (f, _) in chosen.items() if _shows_the_same(f, frame)), None)
            if same is not None:
                if reason not in chosen[same][1]:
                    chosen[same][1].append(reason)
            elif len(chosen) < self.max_frames:
                chosen[frame.index] = (frame, [reason])
        if not chosen and self._first_frame is not None:
            # Every frame is black: the first one still says what the clip is.
            chosen[self._first_frame.index] = (self._first_frame, ["first"])
        return [
            (frame, tuple(sorted(reasons, key=REASONS.index)))
            for frame, reasons in sorted(chosen.values(), key=lambda c: c[0].index)
        ]

    def _close_shot(self) -> None:
        """Choose the frame of the shot that just ended; keep the picks of the longest shots only."""
        length = self._shot_last - self._shot_start
        middle = self._shot_start + length / 2 if length < 2 * _SHOT_OFFSET_SECONDS else None
        frame = self._shot.best(middle)
        if frame is None:
            return  # a shot with only black frames
        heapq.heappush(self._shot_picks, _ShotPick(length, frame.shot, frame))
        if len(self._shot_picks) > self.max_frames:
            heapq.heappop(self._shot_picks)

    def _offer_motion(self, frame: _Frame) -> None:
        """Keep the strongest motion frames, at most max_frames, no two closer than the spacing."""
        near = [f for f in self._motion if abs(f.seconds - frame.seconds) < _MOTION_SPACING_SECONDS]
        if any(f.motion >= frame.motion for f in near):
            return
        kept = [f for f in self._motion if f not in near]
        kept.append(frame)
        kept.sort(key=lambda f: -f.motion)
        self._motion = kept[: self.max_frames]


def _shot_of(pick: _ShotPick) -> int:
    return pick.shot


def _shows_the_same(chosen: _Frame, frame: _Frame) -> bool:
    return chosen.shot == frame.shot and abs(chosen.seconds - frame.seconds) <= _MERGE_SECONDS
