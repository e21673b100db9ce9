"""Sampling a clip in one decode: cuts where the shots change (and not where the camera moves or the picture
fades), a frame for every shot, base and motion frames, never a black or half-faded frame."""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vidpipe.bench.sampler import shots_sampled
from vidpipe.video import sampling
from vidpipe.video.sampling import REASONS, SamplingResult, sample_clip
from vidpipe.video.synthetic import Image, dissolve, fade, pan, scene, write_clip

PYSCENEDETECT = "video/pyscenedetect"


def _shots(*pictures: Image, frames: int = 24) -> Iterator[Image]:
    """Consecutive shots, each a slow pan over its own picture: hard cuts every ``frames`` frames."""
    return itertools.chain.from_iterable(pan(p, frames) for p in pictures)


def _check_result(result: SamplingResult, max_frames: int = 8) -> None:
    """What holds for every result."""
    times = [f.seconds for f in result.frames]
    assert times == sorted(times) and len(set(f.index for f in result.frames)) == len(result.frames)
    assert 1 <= len(result.frames) <= max_frames
    assert result.shots == len(result.cuts_seconds) + 1
    for frame in result.frames:
        assert frame.reasons and set(frame.reasons) <= set(REASONS)
        assert frame.image.dtype == np.uint8 and frame.image.ndim == 3 and frame.image.shape[2] == 3
        assert 0 <= frame.shot < result.shots


def _brightness(image: Image) -> float:
    return float(image.mean())


# ---------------------------------------------------------------- clips made here


def test_a_cut_between_two_shots(tmp_path: Path) -> None:
    first, second = scene(1), scene(2)
    path = write_clip(tmp_path / "cut.mp4", _shots(first, second), fps=24)
    result = sample_clip(path)
    _check_result(result)
    assert result.decoded_frames == 48 and result.shots == 2
    assert result.cuts_seconds == pytest.approx([1.0], abs=0.01)  # frame 24 at 24 fps
    by_shot = {f.shot for f in result.frames if "shot" in f.reasons}
    assert by_shot == {0, 1}
    for frame in result.frames:
        # Each chosen frame shows its own shot's picture (both pan by at most 24 px).
        own, other = (first, second) if frame.seconds < 1.0 else (second, first)
        assert frame.shot == (0 if frame.seconds < 1.0 else 1)
        assert np.abs(frame.image.astype(int) - own).mean() < np.abs(frame.image.astype(int) - other).mean()
    shot_frame = next(f for f in result.frames if "shot" in f.reasons and f.shot == 1)
    assert 1.1 <= shot_frame.seconds <= 1.5  # settled in the shot, not the cut frame itself
    assert result.info.width == 320 and result.seconds > 0


def test_continuous_camera_motion_is_not_a_cut(tmp_path: Path) -> None:
    # A still second, then a second of fast panning (12 px a frame over black and white blocks), then still.
    blocks = np.random.default_rng(3).integers(0, 2, size=(60, 80, 1), dtype=np.uint8) * 255
    picture = np.kron(blocks, np.ones((4, 4, 3), dtype=np.uint8))
    fast = [np.roll(picture, -12 * n, axis=1) for n in range(24)]
    path = write_clip(tmp_path / "whip.mp4", itertools.chain([fast[0]] * 24, fast, [fast[-1]] * 24), fps=24)
    result = sample_clip(path, motion_delta_threshold=0.15)
    _check_result(result)
    assert result.cuts_seconds == [] and result.shots == 1
    motion = [f for f in result.frames if "motion" in f.reasons]
    assert motion and all(f.motion > 0.15 for f in motion)
    assert all(1.0 <= f.seconds < 2.05 for f in motion)


def test_a_fade_to_black_is_no_cut_and_never_chosen(tmp_path: Path) -> None:
    frames = list(pan(scene(4), 30))
    path = write_clip(tmp_path / "fade.mp4", [*frames, *fade(frames[-1], 15), *[frames[-1] * 0] * 15], fps=24)
    result = sample_clip(path)
    _check_result(result)
    assert result.cuts_seconds == []
    bright = _brightness(frames[0])
    for frame in result.frames:
        # Not black, and not part-way into the fade (its first frame is already 6 % darker).
        assert _brightness(frame.image) > 0.97 * bright, (frame.index, frame.reasons)
    assert any("last" in f.reasons for f in result.frames)


def test_a_dissolve_is_no_cut_and_its_middle_never_chosen(tmp_path: Path) -> None:
    first, second = scene(8), scene(9)
    frames = [*[first] * 24, *dissolve(first, second, 24), *[second] * 24]  # the dissolve: frames 24–47
    result = sample_clip(write_clip(tmp_path / "dissolve.mp4", frames, fps=24))
    _check_result(result)
    assert result.cuts_seconds == []
    assert not [f.index for f in result.frames if 27 <= f.index <= 44]
    assert any(f.index < 24 for f in result.frames) and any(f.index >= 48 for f in result.frames)


def test_a_one_second_clip(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "short.mp4", pan(scene(5), 24), fps=24)
    result = sample_clip(path)
    _check_result(result)
    reasons = {r for f in result.frames for r in f.reasons}
    assert {"first", "last", "shot"} <= reasons and not reasons & {"2s", "4s", "6s"}
    assert result.frames[0].index == 0 and result.frames[-1].index == 23


def test_a_one_frame_clip(tmp_path: Path) -> None:
    result = sample_clip(write_clip(tmp_path / "still.mp4", [scene(6)]))
    _check_result(result)
    assert len(result.frames) == 1 and result.decoded_frames == 1
    only = result.frames[0]
    assert only.index == 0 and only.seconds == 0.0 and set(only.reasons) == {"first", "last", "shot"}


def test_every_shot_gets_a_frame_and_the_cap_holds(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "five.mp4", _shots(*(scene(10 + n) for n in range(5)), frames=18), fps=24)
    result = sample_clip(path, max_frames=8)
    _check_result(result)
    assert result.cuts_seconds == pytest.approx([0.75, 1.5, 2.25, 3.0], abs=0.01)
    assert {f.shot for f in result.frames if "shot" in f.reasons} == set(range(5))
    capped = sample_clip(path, max_frames=3)
    _check_result(capped, max_frames=3)
    assert len(capped.frames) == 3 and all("shot" in f.reasons for f in capped.frames)


def test_base_frames_of_a_seven_second_clip(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "seven.mp4", pan(scene(7), 70), fps=10)
    result = sample_clip(path)
    _check_result(result)
    at = {r: f.seconds for f in result.frames for r in f.reasons}
    assert at["first"] == 0.0 and at["last"] == pytest.approx(6.9)
    for reason, seconds in (("2s", 2.0), ("4s", 4.0), ("6s", 6.0)):
        assert at[reason] == pytest.approx(seconds, abs=0.3)


def test_only_chosen_frames_are_converted_and_few_are_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_clip(tmp_path / "long.mp4", _shots(*(scene(20 + n) for n in range(6)), frames=40), fps=24)
    alive: list[weakref.ref[Any]] = []
    most_alive = 0
    converted = 0
    measure, to_rgb = sampling._measure, sampling.frame_to_rgb

    def counting_measure(*args: Any) -> Any:
        nonlocal most_alive
        frame = measure(*args)
        alive.append(weakref.ref(frame))
        most_alive = max(most_alive, sum(ref() is not None for ref in alive))
        return frame

    def counting_to_rgb(*args: Any, **kwargs: Any) -> Any:
        nonlocal converted
        converted += 1
        return to_rgb(*args, **kwargs)

    monkeypatch.setattr(sampling, "_measure", counting_measure)
    monkeypatch.setattr(sampling, "frame_to_rgb", counting_to_rgb)
    result = sample_clip(path)
    assert result.decoded_frames == 240 and result.shots == 6
    assert converted == len(result.frames)
    assert most_alive <= 40  # a bounded pool, not the clip's 240 frames


# ---------------------------------------------------------------- real clips


@pytest.mark.data
@pytest.mark.parametrize(
    ("name", "cut_frames", "portrait"),
    [("testvideo.mp4", [30, 180], False), ("issue-134-rotate.mp4", [90, 210], True)],
)
def test_cuts_and_shots_of_clips_with_known_cuts(
    data_dir: Path, name: str, cut_frames: list[int], portrait: bool
) -> None:
    path = data_dir / PYSCENEDETECT / name
    result = sample_clip(path)
    _check_result(result)
    fps = result.info.fps
    truth = [frame / fps for frame in cut_frames]
    assert len(result.cuts_seconds) == len(truth)
    assert result.cuts_seconds == pytest.approx(truth, abs=0.1)
    assert shots_sampled([f.seconds for f in result.frames], truth) == len(truth) + 1
    for frame in result.frames:
        height, width = frame.image.shape[:2]
        assert (height > width) == portrait and max(height, width) == 1280


@pytest.mark.data
def test_no_black_frame_and_no_cut_in_fades(data_dir: Path) -> None:
    result = sample_clip(data_dir / PYSCENEDETECT / "fades.mp4")  # a flat picture fading in and out
    _check_result(result)
    assert result.cuts_seconds == []
    assert all(_brightness(f.image) > 100 for f in result.frames), [_brightness(f.image) for f in result.frames]


@pytest.mark.data
def test_handheld_motion_is_one_shot(data_dir: Path) -> None:
    result = sample_clip(data_dir / "video/imageio/cockatoo.mp4")  # one handheld shot, strong motion
    _check_result(result)
    assert result.cuts_seconds == []
    assert any("motion" in f.reasons for f in result.frames)
