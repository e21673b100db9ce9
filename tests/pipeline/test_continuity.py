"""The continuity score and its reasons, on findings made by hand (no models)."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from vidpipe.pipeline.clip_matching import FrameFindings, Sighting, Stranger, Thresholds
from vidpipe.pipeline.continuity import score_clip

THRESHOLDS = Thresholds(face=0.9, image=0.8)
CHAR, PROP = uuid.uuid4(), uuid.uuid4()


def _seen(tag: str, similarity: float | None, source: str = "face_match") -> Sighting:
    return Sighting(
        asset_id=CHAR if tag.startswith("CHAR") else PROP,
        tag=tag,
        box=(0.0, 0.0, 10.0, 10.0),
        confidence=0.9,
        source=source,
        reference_id=None,
        similarity=similarity,
        crop=np.zeros((4, 4, 3), np.uint8),
    )


def _frames(per_frame: list[tuple[list[Sighting], int]]) -> list[FrameFindings]:
    return [
        FrameFindings(
            index=n * 10,
            seconds=float(n),
            sightings=tuple(seen),
            strangers=tuple(Stranger((0, 0, 9, 9), 0.9, None, None) for _ in range(strangers)),
            objects=(),
        )
        for n, (seen, strangers) in enumerate(per_frame)
    ]


def test_a_steady_character_passes_and_one_replaced_halfway_fails() -> None:
    steady = _frames([([_seen("CHAR_01", 0.97)], 0) for _ in range(8)])
    good = score_clip(steady, ["CHAR_01"], THRESHOLDS, 5.0)
    assert good.gate == "pass" and good.score >= 8.0, good
    swapped = _frames([([_seen("CHAR_01", 0.97)], 0)] * 4 + [([], 1)] * 4)
    bad = score_clip(swapped, ["CHAR_01"], THRESHOLDS, 5.0)
    assert bad.gate == "fail" and bad.score < 5.0, bad
    assert "CHAR_01 not seen after 3.0 s" in bad.reasons
    assert "an unexpected person in 4 of 8 frames" in bad.reasons


def test_missing_assets_falling_similarity_and_extras_are_said_in_words() -> None:
    frames = _frames([([_seen("CHAR_01", s)], 0) for s in (0.99, 0.99, 0.98, 0.92, 0.91, 0.91)])
    verdict = score_clip(frames, ["CHAR_01", "PROP_01"], THRESHOLDS, 5.0)
    assert "PROP_01 missing" in verdict.reasons
    assert "CHAR_01 similarity falls after 2.0 s" in verdict.reasons
    by_tag = {a.tag: a for a in verdict.assets}
    assert by_tag["PROP_01"].score == 0.0 and by_tag["CHAR_01"].presence == 1.0
    extra = score_clip(_frames([([_seen("PROP_01", 0.95, "clip_match")], 0)]), ["CHAR_01"], THRESHOLDS, 5.0)
    assert "also found, not expected: PROP_01" in extra.reasons


def test_scores_are_on_each_models_scale() -> None:
    # The same raw similarity is strong for a model whose threshold is low, weak for a strict one.
    frames = _frames([([_seen("PROP_01", 0.85, "clip_match")], 0)] * 4)
    lenient = score_clip(frames, ["PROP_01"], Thresholds(face=0.9, image=0.5), 5.0)
    strict = score_clip(frames, ["PROP_01"], Thresholds(face=0.9, image=0.84), 5.0)
    assert lenient.assets[0].identity is not None and strict.assets[0].identity is not None
    assert lenient.assets[0].identity > strict.assets[0].identity


def test_nothing_expected_or_found_is_said() -> None:
    verdict = score_clip(_frames([([], 0)] * 3), [], THRESHOLDS, 5.0)
    assert verdict.gate == "pass" and "no registry asset expected or found" in verdict.reasons


def test_frames_weigh_the_stretch_of_clip_they_stand_for() -> None:
    from vidpipe.pipeline.continuity import frame_weights

    frames = _frames([([], 0)] * 3)  # at 0, 1 and 2 s
    assert frame_weights(frames, 4.0) == [0.5 / 4, 1.0 / 4, 2.5 / 4]
    assert frame_weights(frames[:1], None) == [1.0]
    # Two samples close together early and one late: the late one stands for most of the clip.
    early = [FrameFindings(0, 0.0, (), (), ()), FrameFindings(1, 0.2, (), (), ()), FrameFindings(2, 5.0, (), (), ())]
    late_stranger = [early[0], early[1], FrameFindings(2, 5.0, (), (Stranger((0, 0, 9, 9), 0.9, None, None),), ())]
    verdict = score_clip(late_stranger, [], THRESHOLDS, 5.0, duration=6.0)
    # One frame of three, but it stands for 2.6 s to 6 s: the penalty follows the time.
    assert verdict.score == pytest.approx(10 - 5 * 3.4 / 6, abs=0.01)
    assert "an unexpected person in 1 of 3 frames" in verdict.reasons
