"""The continuity score of a clip (0-10), its gate verdict, and the reasons in words.

Each sampled frame stands for the stretch of the clip around it (from halfway to the previous
sample to halfway to the next), so a frame's weight is that stretch's share of the clip: the
sampler takes more frames where more happens, and shares of time must not follow that.

For each asset the scene expects (or, when it expects none, each asset found):
- presence: the weighted share of sampled frames it is found in;
- identity: its median similarity to its references, put on a common 0-1 scale per model:
  ``(similarity - threshold) / (1 - threshold)``, so 0 is "just the same person/object" for that
  model and 1 is identical (a class-only match counts 0.5);
- stability: 1 minus the spread (max - min) of that scaled similarity across the frames.
The asset scores ``10 * (0.5 * presence + 0.3 * identity + 0.2 * stability)``; a missing one scores 0.
The clip scores the mean over those assets, minus ``5 * (weighted share of frames with an
unexpected person)``, clipped to 0-10. An unexpected person is a face nobody in the registry has
or, when the scene names whom it expects, a registry character it does not expect. With nothing
expected and nothing found, the clip scores 10 minus that penalty.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from vidpipe.pipeline.clip_matching import FrameFindings, Thresholds

PRESENCE_WEIGHT, IDENTITY_WEIGHT, STABILITY_WEIGHT = 0.5, 0.3, 0.2
STRANGER_PENALTY = 5.0
CLASS_ONLY_IDENTITY = 0.5
# A drop of the scaled similarity by this much from before a time to after it is worth saying.
FALL = 0.3


@dataclass(frozen=True)
class AssetContinuity:
    tag: str
    expected: bool
    frames_present: int
    presence: float
    identity: float | None
    stability: float | None
    score: float
    similarities: tuple[float | None, ...]  # per sampled frame, raw (None: not found there)


@dataclass(frozen=True)
class Verdict:
    score: float
    gate: str  # "pass" or "fail"
    reasons: tuple[str, ...]
    assets: tuple[AssetContinuity, ...]
    frames_with_strangers: int
    frames_with_unexpected: int  # strangers, or registry characters the scene does not expect


def _scaled(similarity: float, threshold: float) -> float:
    return max(0.0, min(1.0, (similarity - threshold) / max(1e-6, 1.0 - threshold)))


def _seconds(value: float) -> str:
    return f"{value:.1f} s"


def frame_weights(frames: Sequence[FrameFindings], duration: float | None = None) -> list[float]:
    """Each frame's share of the clip: the stretch from halfway to the previous sample to halfway
    to the next (the first from 0, the last to ``duration`` when known); equal shares when the
    frames span no time."""
    times = [f.seconds for f in frames]
    if not times:
        return []
    end = max(duration or 0.0, times[-1])
    cuts = [0.0, *[(a + b) / 2 for a, b in pairwise(times)], end]
    spans = [max(0.0, b - a) for a, b in pairwise(cuts)]
    total = sum(spans)
    return [x / total for x in spans] if total > 0 else [1 / len(times)] * len(times)


def score_clip(
    frames: Sequence[FrameFindings],
    expected: Sequence[str],
    thresholds: Thresholds,
    gate_threshold: float,
    *,
    duration: float | None = None,
) -> Verdict:
    """Score sampled frames' findings (in time order) for a clip of ``duration`` seconds."""
    n = len(frames)
    weights = frame_weights(frames, duration)
    found_tags = sorted({s.tag for f in frames for s in f.sightings})
    wanted = list(dict.fromkeys(expected)) or found_tags
    reasons: list[str] = []
    results: list[AssetContinuity] = []
    for tag in wanted:
        per_frame: list[float | None] = []
        scaled: list[float] = []
        seen_at: list[int] = []  # indices of the frames it was found in
        present, weight = 0, 0.0
        for frame, share in zip(frames, weights, strict=True):
            sighting = next((s for s in frame.sightings if s.tag == tag), None)
            if sighting is None:
                per_frame.append(None)
                continue
            present += 1
            weight += share
            seen_at.append(len(per_frame))
            per_frame.append(sighting.similarity)
            threshold = thresholds.face if sighting.source == "face_match" else thresholds.image
            scaled.append(
                CLASS_ONLY_IDENTITY if sighting.similarity is None else _scaled(sighting.similarity, threshold)
            )
        if present == 0:
            results.append(AssetContinuity(tag, bool(expected), 0, 0.0, None, None, 0.0, tuple(per_frame)))
            reasons.append(f"{tag} missing")
            continue
        presence = weight
        identity = statistics.median(scaled)
        stability = 1.0 - min(1.0, max(scaled) - min(scaled)) if len(scaled) > 1 else 1.0
        score = 10 * (PRESENCE_WEIGHT * presence + IDENTITY_WEIGHT * identity + STABILITY_WEIGHT * stability)
        results.append(
            AssetContinuity(
                tag, bool(expected), present, round(presence, 3), round(identity, 3), round(stability, 3),
                round(score, 2), tuple(per_frame),
            )
        )  # fmt: skip
        reasons.extend(_what_changed(tag, frames, seen_at, scaled))

    # Someone who should not be there: a face nobody in the registry has, or (when the scene says
    # whom it expects) a registry character it does not expect.
    def intruders(frame: FrameFindings) -> list[str]:
        return [s.tag for s in frame.sightings if expected and s.source == "face_match" and s.tag not in wanted]

    strangers = sum(1 for f in frames if f.strangers)
    unexpected = sum(1 for f in frames if f.strangers or intruders(f))
    unexpected_share = sum(w for f, w in zip(frames, weights, strict=True) if f.strangers or intruders(f))
    base = statistics.mean(r.score for r in results) if results else 10.0
    total = max(0.0, min(10.0, base - STRANGER_PENALTY * unexpected_share))
    if strangers:
        reasons.append(f"an unexpected person in {strangers} of {n} frames")
    for tag in sorted({t for f in frames for t in intruders(f)}):
        count = sum(1 for f in frames if tag in intruders(f))
        reasons.append(f"{tag}, not expected in this scene, in {count} of {n} frames")
    if not wanted:
        reasons.append("no registry asset expected or found")
    intruding = {t for f in frames for t in intruders(f)}
    extra = [t for t in found_tags if expected and t not in expected and t not in intruding]
    if extra:
        reasons.append(f"also found, not expected: {', '.join(extra)}")
    gate = "pass" if total >= gate_threshold else "fail"
    head = f"score {total:.1f} {'≥' if gate == 'pass' else '<'} gate {gate_threshold:g}"
    return Verdict(round(total, 2), gate, (head, *reasons), tuple(results), strangers, unexpected)


def _what_changed(tag: str, frames: Sequence[FrameFindings], seen_at: list[int], scaled: list[float]) -> list[str]:
    """Reasons about one asset found in frames ``seen_at`` with these scaled similarities."""
    n, present = len(frames), len(seen_at)
    said: list[str] = []
    # Seen early, then never again for a good part of the clip.
    last_seen = seen_at[-1]
    gone = n - 1 - last_seen
    if gone >= 2 and gone / n >= 0.25:
        said.append(f"{tag} not seen after {_seconds(frames[last_seen].seconds)}")
    elif present / n < 0.5:
        said.append(f"{tag} in only {present} of {n} frames")
    # Similarity that falls: the split with the largest drop between the mean before and after.
    if len(scaled) >= 3:
        best_drop, at = 0.0, 0.0
        for k in range(1, len(scaled)):
            drop = statistics.mean(scaled[:k]) - statistics.mean(scaled[k:])
            if drop > best_drop:
                best_drop, at = drop, frames[seen_at[k - 1]].seconds
        if best_drop >= FALL:
            said.append(f"{tag} similarity falls after {_seconds(at)}")
    return said
