"""The clip sampler against PySceneDetect's ContentDetector on a clip with known hard cuts: cut precision,
recall and F1 for both, how many true shots our sampled frames cover, and the speed of both."""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

from vidpipe.errors import VidpipeError
from vidpipe.video.decoding import ClipLimits, decode_frames
from vidpipe.video.sampling import sample_clip

# A detected cut counts where it is this close (seconds) to a true cut: three frames at 30 fps, the usual
# slack of shot-boundary benchmarks for a cut found one or two frames early or late.
CUT_TOLERANCE_SECONDS = 0.1

PEER = "PySceneDetect ContentDetector (default settings, OpenCV backend)"


def parse_cut_list(text: str, option: str, *, as_frames: bool) -> list[float]:
    """Comma-separated frame numbers (``as_frames``) or seconds, as given on the command line; "" is none.

    Raises:
        VidpipeError: An entry is not a number, or is negative.
    """
    values: list[float] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            value = float(int(part)) if as_frames else float(part)
        except ValueError:
            kind = "a frame number (a whole number)" if as_frames else "a time in seconds"
            raise VidpipeError(f"{option}: {part!r} is not {kind}") from None
        if value < 0:
            raise VidpipeError(f"{option}: {part!r} is negative")
        values.append(value)
    return sorted(set(values))


def frames_to_seconds(video: Path, frames: list[int], limits: ClipLimits = ClipLimits()) -> list[float]:
    """The timestamps (seconds from the start) of the given 0-based frames, read from the clip itself, so
    that variable frame rates and late-starting streams are right.

    Raises:
        VidpipeError: A frame is past the clip's last frame, or the clip cannot be decoded.
    """
    wanted = set(frames)
    found: dict[int, float] = {}
    last = -1
    for decoded in decode_frames(video, limits):
        last = decoded.index
        if decoded.index in wanted:
            found[decoded.index] = decoded.seconds
    missing = sorted(wanted - found.keys())
    if missing:
        raise VidpipeError(
            f"--cuts: frame {missing[0]} is past the last frame of {video.name!r} (frame {last}; frames count from 0)"
        )
    return sorted(found[f] for f in wanted)


def match_cuts(found: list[float], truth: list[float], tolerance: float = CUT_TOLERANCE_SECONDS) -> int:
    """How many found cuts lie within ``tolerance`` seconds of a true cut, each true cut matched at most once
    (closest pairs first)."""
    pairs = sorted(
        (abs(f - t), i, j) for i, f in enumerate(found) for j, t in enumerate(truth) if abs(f - t) <= tolerance
    )
    used_found: set[int] = set()
    used_truth: set[int] = set()
    for _, i, j in pairs:
        if i not in used_found and j not in used_truth:
            used_found.add(i)
            used_truth.add(j)
    return len(used_found)


def cut_scores(found: list[float], truth: list[float], tolerance: float = CUT_TOLERANCE_SECONDS) -> dict[str, float]:
    """Precision, recall and F1 of found cuts. With nothing to find, finding nothing is perfect."""
    hits = match_cuts(found, truth, tolerance)
    precision = hits / len(found) if found else 1.0
    recall = hits / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def shots_sampled(sampled_seconds: list[float], truth: list[float]) -> int:
    """True shots (the spans between true cuts) with at least one sampled frame inside."""
    bounds = [-float("inf"), *sorted(truth), float("inf")]
    return sum(any(start <= t < end for t in sampled_seconds) for start, end in itertools.pairwise(bounds))


def pyscenedetect_cuts(video: Path) -> tuple[list[float], int, float]:
    """(cut times in seconds, frames processed, wall seconds) from PySceneDetect's ContentDetector with its
    default settings."""
    from scenedetect import ContentDetector, SceneManager, open_video  # type: ignore[import-untyped]

    start = time.perf_counter()
    stream = open_video(str(video), backend="opencv")
    manager = SceneManager()
    manager.add_detector(ContentDetector())
    frames = int(manager.detect_scenes(stream))
    scenes = manager.get_scene_list()
    seconds = time.perf_counter() - start
    # Each scene after the first starts at a cut.
    return [float(scene_start.seconds) for scene_start, _ in scenes[1:]], frames, seconds


def run_sampler_bench(
    video: Path,
    *,
    cut_frames: list[int] | None = None,
    cut_seconds: list[float] | None = None,
    max_frames: int = 8,
    limits: ClipLimits = ClipLimits(),
) -> dict[str, Any]:
    """Ours (`sample_clip`) and PySceneDetect on the same clip, against true cuts given as exactly one of
    frame numbers (0-based, the first frame of each new shot) or seconds.

    Raises:
        VidpipeError: The clip is missing or unusable, or the cuts are not given exactly once or are past
            the clip's end.
    """
    if (cut_frames is None) == (cut_seconds is None):
        raise VidpipeError("give the true cuts exactly once: as frame numbers (--cuts) or as seconds (--cuts-seconds)")
    if not video.is_file():
        raise VidpipeError(f"video {str(video)!r} does not exist or is not a file")
    truth = sorted(cut_seconds) if cut_seconds is not None else frames_to_seconds(video, cut_frames or [], limits)

    ours = sample_clip(video, max_frames=max_frames, limits=limits)
    peer_cuts, peer_frames, peer_seconds = pyscenedetect_cuts(video)

    sampled = [frame.seconds for frame in ours.frames]
    mine, theirs = cut_scores(ours.cuts_seconds, truth), cut_scores(peer_cuts, truth)
    return {
        "video": video.name,
        "peer": PEER,
        "tolerance_seconds": CUT_TOLERANCE_SECONDS,
        "true_cuts_seconds": [round(t, 3) for t in truth],
        "cut_precision": mine["precision"],
        "cut_recall": mine["recall"],
        "cut_f1": mine["f1"],
        "peer_cut_precision": theirs["precision"],
        "peer_cut_recall": theirs["recall"],
        "peer_cut_f1": theirs["f1"],
        "cuts_seconds": [round(t, 3) for t in ours.cuts_seconds],
        "peer_cuts_seconds": [round(t, 3) for t in peer_cuts],
        "shots_total": len(truth) + 1,
        "shots_sampled": shots_sampled(sampled, truth),
        "sampled_seconds": [round(t, 3) for t in sampled],
        "decoded_frames": ours.decoded_frames,
        "peer_decoded_frames": peer_frames,
        "seconds": round(ours.seconds, 3),
        "peer_seconds": round(peer_seconds, 3),
        "fps": round(ours.decoded_frames / ours.seconds, 1) if ours.seconds > 0 else None,
        "peer_fps": round(peer_frames / peer_seconds, 1) if peer_seconds > 0 else None,
    }
