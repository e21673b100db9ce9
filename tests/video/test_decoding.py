"""Opening and decoding clips: sizes as players show them, timestamps from the start of the clip, and a
clear ClipError (never a PyAV traceback) for every kind of bad input."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from vidpipe.errors import VidpipeError
from vidpipe.video.decoding import (
    ClipError,
    ClipLimits,
    decode_frames,
    display_size,
    frame_to_rgb,
    open_clip,
    probe_clip,
)
from vidpipe.video.synthetic import pan, scene, write_clip, write_tone

PYSCENEDETECT = "video/pyscenedetect"


@pytest.fixture(scope="module")
def one_second(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """24 frames at 24 fps of a picture panning right, 320×240."""
    return write_clip(tmp_path_factory.mktemp("clips") / "pan.mp4", pan(scene(1), 24), fps=24)


def _refused(path: Path, limits: ClipLimits = ClipLimits()) -> ClipError:
    with pytest.raises(ClipError) as caught:
        for _ in decode_frames(path, limits):
            pass
    error = caught.value
    assert isinstance(error, VidpipeError) and error.status == 422
    assert path.name in str(error)
    return error


# ---------------------------------------------------------------- clips made here


def test_probe_and_decode_a_synthetic_clip(one_second: Path) -> None:
    info = probe_clip(one_second)
    assert (info.width, info.height, info.coded_width, info.coded_height) == (320, 240, 320, 240)
    assert info.codec == "h264" and info.rotation == 0 and info.sample_aspect_ratio == 1.0
    assert info.fps == pytest.approx(24.0) and info.frames == 24
    assert info.duration_seconds == pytest.approx(1.0, abs=0.05) and info.start_seconds == 0.0
    frames = list(decode_frames(one_second))
    assert [f.index for f in frames] == list(range(24))
    assert [f.seconds for f in frames] == pytest.approx([n / 24 for n in range(24)], abs=1e-6)


def test_frames_come_out_as_encoded(one_second: Path) -> None:
    picture = scene(1)
    first = next(iter(decode_frames(one_second)))
    image = frame_to_rgb(first.frame)
    assert image.shape == (240, 320, 3) and image.dtype == np.uint8 and image.flags.c_contiguous
    assert np.abs(image.astype(int) - picture).mean() < 6  # lossy coding, same picture
    small = frame_to_rgb(first.frame, max_side=160)
    assert small.shape == (120, 160, 3)


def test_display_rotation_turns_the_picture_as_players_do(tmp_path: Path) -> None:
    picture = scene(2)
    path = write_clip(tmp_path / "rotated.mp4", [picture] * 3, rotation=-90)
    with open_clip(path) as clip:
        info = clip.info
        image = frame_to_rgb(next(clip.frames()).frame)
    assert info.rotation == -90 and (info.width, info.height) == (240, 320)
    assert image.shape == (320, 240, 3)
    # A display matrix of −90° (counterclockwise) is a quarter turn clockwise, as FFmpeg's autorotate does.
    clockwise, counterclockwise = np.rot90(picture, -1), np.rot90(picture, 1)
    assert np.abs(image.astype(int) - clockwise).mean() < 6
    assert np.abs(image.astype(int) - counterclockwise).mean() > 30


def test_display_size_squares_pixels_then_turns() -> None:
    assert display_size(704, 576, 16 / 11, 0) == (1024, 576)
    assert display_size(704, 576, 16 / 11, 90) == (576, 1024)
    assert display_size(1280, 544, 1.0, -90) == (544, 1280)
    assert display_size(1280, 720, 1.0, 180) == (1280, 720)


def test_a_stream_without_timestamps_or_duration_still_gets_times(tmp_path: Path) -> None:
    raw = write_clip(tmp_path / "raw.h264", pan(scene(3), 30))  # an elementary stream: no container
    assert probe_clip(raw).duration_seconds is None
    seconds = [f.seconds for f in decode_frames(raw)]
    assert len(seconds) == 30 and seconds[0] == 0.0
    assert all(b > a for a, b in itertools.pairwise(seconds))


def test_empty_text_and_missing_files_are_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert "empty" in _refused(empty).reason
    text = tmp_path / "notes.mp4"
    text.write_text("these are not the frames you are looking for\n" * 20)
    assert "not a video" in _refused(text).reason
    assert "no such file" in _refused(tmp_path / "gone.mp4").reason
    assert "directory" in _refused(tmp_path).reason


@pytest.mark.parametrize(("name", "codec"), [("tone.m4a", "aac"), ("tone.mkv", "mp2")])
def test_audio_only_files_have_no_video_stream(tmp_path: Path, name: str, codec: str) -> None:
    error = _refused(write_tone(tmp_path / name, codec=codec))
    assert "no video stream" in error.reason and "audio" in error.reason


def test_a_cut_short_matroska_clip_is_truncated(tmp_path: Path) -> None:
    whole = write_clip(tmp_path / "whole.mkv", pan(scene(4), 96))
    cut = tmp_path / "cut.mkv"
    data = whole.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.3)])
    assert len(list(decode_frames(whole))) == 96
    error = _refused(cut)
    assert "truncated" in error.reason and "4.00 s" in error.reason


def test_limits_name_the_size_and_the_limit(one_second: Path) -> None:
    pixels = _refused(one_second, ClipLimits(max_pixels=320 * 240 - 1))
    assert "320×240" in pixels.reason and "76,799" in pixels.reason
    duration = _refused(one_second, ClipLimits(max_duration_seconds=0.5))
    assert "1.0 s" in duration.reason and "0.5 s" in duration.reason
    size = _refused(one_second, ClipLimits(max_bytes=1000))
    assert "bytes" in size.reason and "1,000" in size.reason


def test_the_duration_limit_holds_without_a_header_duration(tmp_path: Path) -> None:
    raw = write_clip(tmp_path / "raw.h264", pan(scene(5), 48))
    error = _refused(raw, ClipLimits(max_duration_seconds=1.0))
    assert "longer than the limit of 1 s" in error.reason


# ---------------------------------------------------------------- real clips


@pytest.mark.data
def test_a_late_starting_stream_counts_from_zero(data_dir: Path) -> None:
    path = data_dir / PYSCENEDETECT / "delayed_start.mp4"
    info = probe_clip(path)
    assert info.start_seconds == pytest.approx(1.075)
    seconds = [f.seconds for f in decode_frames(path)]
    assert len(seconds) == 24 and seconds[0] == 0.0
    assert np.diff(seconds) == pytest.approx([0.04] * 23, abs=1e-6)


@pytest.mark.data
def test_variable_frame_rate_uses_the_timestamps(data_dir: Path) -> None:
    path = data_dir / "video/moviepy/fire2.mp4"  # nominal 90000 fps, 10.5 on average
    info = probe_clip(path)
    assert info.fps == pytest.approx(10.5, abs=0.1) and info.rotation == 180
    seconds = [f.seconds for f in decode_frames(path)]
    assert len(seconds) == 25 and seconds[0] == 0.0
    assert seconds[-1] == pytest.approx(2.28, abs=0.01)  # 24 / 90000 s if the nominal rate were believed


@pytest.mark.data
def test_rotated_clip_is_portrait_as_players_show_it(data_dir: Path) -> None:
    path = data_dir / PYSCENEDETECT / "issue-134-rotate.mp4"
    with open_clip(path) as clip:
        info = clip.info
        frame = next(clip.frames()).frame
        shown, stored = frame_to_rgb(frame), frame_to_rgb(frame, rotation=0)
    assert info.rotation == -90 and (info.coded_width, info.coded_height) == (1280, 544)
    assert (info.width, info.height) == (544, 1280)
    assert shown.shape == (1280, 544, 3) and stored.shape == (544, 1280, 3)
    assert np.array_equal(shown, np.rot90(stored, -1))


@pytest.mark.data
def test_non_square_pixels_are_made_square(data_dir: Path) -> None:
    path = data_dir / PYSCENEDETECT / "issue-195-aspect-ratio.mp4"
    with open_clip(path) as clip:
        info = clip.info
        image = frame_to_rgb(next(clip.frames()).frame, sample_aspect_ratio=info.sample_aspect_ratio)
    assert info.sample_aspect_ratio == pytest.approx(16 / 11)
    assert (info.coded_width, info.coded_height) == (704, 576) and (info.width, info.height) == (1024, 576)
    assert image.shape[1] / image.shape[0] == pytest.approx(16 / 9, rel=0.01)


@pytest.mark.data
def test_a_matroska_clip_without_a_duration(data_dir: Path) -> None:
    path = data_dir / "video/imageio/test.webm"
    info = probe_clip(path)
    assert info.duration_seconds is None and info.frames is None
    assert len(list(decode_frames(path))) == 94


@pytest.mark.data
def test_a_truncated_copy_of_a_real_clip(data_dir: Path, tmp_path: Path) -> None:
    data = (data_dir / PYSCENEDETECT / "testvideo.mp4").read_bytes()
    copy = tmp_path / "testvideo_part.mp4"
    copy.write_bytes(data[: int(len(data) * 0.3)])
    assert "truncated" in _refused(copy).reason
