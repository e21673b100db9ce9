"""The sampler bench: cut scores that mean what they say, and ours beside PySceneDetect on a real clip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vidpipe.bench.sampler import cut_scores, match_cuts, parse_cut_list, run_sampler_bench, shots_sampled
from vidpipe.cli.app import app
from vidpipe.errors import VidpipeError

runner = CliRunner()

REQUIRED = {
    "cut_precision",
    "cut_recall",
    "cut_f1",
    "peer_cut_precision",
    "peer_cut_recall",
    "peer_cut_f1",
    "shots_total",
    "shots_sampled",
    "seconds",
    "peer_seconds",
    "fps",
    "peer_fps",
    "decoded_frames",
    "peer_decoded_frames",
    "cuts_seconds",
    "peer_cuts_seconds",
    "true_cuts_seconds",
    "sampled_seconds",
}


def test_each_true_cut_is_matched_once() -> None:
    assert match_cuts([1.0, 1.05], [1.0]) == 1
    assert match_cuts([1.0, 2.0], [1.09, 2.2]) == 1  # 2.0 is 0.2 s off
    assert match_cuts([1.05], [1.0, 1.1]) == 1
    assert cut_scores([1.0, 1.05], [1.0]) == {"precision": 0.5, "recall": 1.0, "f1": 0.6667}
    assert cut_scores([], [1.0]) == {"precision": 1.0, "recall": 0.0, "f1": 0.0}
    assert cut_scores([], []) == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    assert cut_scores([3.0], []) == {"precision": 0.0, "recall": 1.0, "f1": 0.0}


def test_shots_sampled_counts_shots_with_a_frame() -> None:
    assert shots_sampled([0.5, 0.7, 5.0], [1.0, 3.0]) == 2  # nothing between 1 s and 3 s
    assert shots_sampled([0.0, 1.0, 3.0], [1.0, 3.0]) == 3  # a frame on a cut is in the new shot
    assert shots_sampled([], []) == 0


def test_cut_lists_from_the_command_line() -> None:
    assert parse_cut_list("180, 30,30", "--cuts", as_frames=True) == [30.0, 180.0]
    assert parse_cut_list("", "--cuts", as_frames=True) == []
    assert parse_cut_list("1.5,0.25", "--cuts-seconds", as_frames=False) == [0.25, 1.5]
    with pytest.raises(VidpipeError, match=r"'1\.5' is not a frame number"):
        parse_cut_list("30,1.5", "--cuts", as_frames=True)
    with pytest.raises(VidpipeError, match="negative"):
        parse_cut_list("-1", "--cuts-seconds", as_frames=False)


def test_the_cuts_must_be_given_exactly_once(tmp_path: Path) -> None:
    with pytest.raises(VidpipeError, match="exactly once"):
        run_sampler_bench(tmp_path / "any.mp4")
    with pytest.raises(VidpipeError, match="exactly once"):
        run_sampler_bench(tmp_path / "any.mp4", cut_frames=[1], cut_seconds=[1.0])
    with pytest.raises(VidpipeError, match="does not exist"):
        run_sampler_bench(tmp_path / "gone.mp4", cut_seconds=[1.0])


@pytest.mark.data
def test_ours_and_pyscenedetect_on_the_rotated_clip(data_dir: Path) -> None:
    result = run_sampler_bench(data_dir / "video/pyscenedetect/issue-134-rotate.mp4", cut_frames=[90, 210])
    assert result.keys() >= REQUIRED
    assert result["true_cuts_seconds"] == pytest.approx([3.754, 8.759], abs=0.001)  # the clip's own timestamps
    for key in ("cut_precision", "cut_recall", "cut_f1", "peer_cut_precision", "peer_cut_recall", "peer_cut_f1"):
        assert 0.0 <= result[key] <= 1.0
    assert result["cut_f1"] == 1.0 and result["shots_total"] == 3 and result["shots_sampled"] == 3
    assert result["decoded_frames"] == 240 and result["peer_decoded_frames"] == 240
    assert result["seconds"] > 0 and result["peer_seconds"] > 0 and result["fps"] > 0
    json.dumps(result)  # plain JSON types only


@pytest.mark.data
def test_wrong_truth_lowers_our_score(data_dir: Path) -> None:
    result = run_sampler_bench(data_dir / "video/pyscenedetect/issue-134-rotate.mp4", cut_seconds=[3.754, 6.0])
    assert result["cut_precision"] == 0.5 and result["cut_recall"] == 0.5 and result["shots_total"] == 3


@pytest.mark.data
def test_the_command(data_dir: Path) -> None:
    video = str(data_dir / "video/pyscenedetect/issue-134-rotate.mp4")
    result = runner.invoke(app, ["bench", "sampler", "--video", video, "--cuts", "90,210", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report.keys() >= REQUIRED and report["shots_sampled"] == 3
    both = runner.invoke(app, ["bench", "sampler", "--video", video, "--cuts", "90", "--cuts-seconds", "3.7"])
    assert isinstance(both.exception, VidpipeError) and "exactly one of --cuts" in str(both.exception)
    past = runner.invoke(app, ["bench", "sampler", "--video", video, "--cuts", "90,5000"])
    assert isinstance(past.exception, VidpipeError) and "frame 5000 is past the last frame" in str(past.exception)
