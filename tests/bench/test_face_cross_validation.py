"""Leave-one-source-out threshold choice: which of the tied thresholds is taken, and what it costs."""

import numpy as np
import pytest

from vidpipe.bench.faces import LabelledFile, LabelledRun, leave_one_source_out
from vidpipe.imaging.quality import QualityReport
from vidpipe.inference.face_analysis import Face, FaceAnalyzer
from vidpipe.settings import Settings

GRID = [round(0.825 + 0.005 * i, 4) for i in range(41)]  # 0.825 .. 1.025
CLOSE = 0.999  # two photos of one person


def _basis(i: int) -> np.ndarray:
    v = np.zeros(8, np.float32)
    v[i] = 1.0
    return v


def _toward(u: np.ndarray, w: np.ndarray, cos: float) -> np.ndarray:
    """A unit vector at cosine ``cos`` from ``u``, turned toward ``w`` (orthogonal to ``u``)."""
    return (cos * u + np.sqrt(1 - cos**2) * w).astype(np.float32)


def _run() -> tuple[list[LabelledFile], LabelledRun]:
    """Folder a: two clearly different people. Folder b: two look-alikes at cosine 0.95."""
    look_alike = _toward(_basis(4), _basis(6), 0.95)
    people = {
        ("a", "p1"): (_basis(0), _toward(_basis(0), _basis(1), CLOSE)),
        ("a", "p2"): (_basis(2), _toward(_basis(2), _basis(3), CLOSE)),
        ("b", "p3"): (_basis(4), _toward(_basis(4), _basis(5), CLOSE)),
        ("b", "p4"): (look_alike, _toward(look_alike, _basis(7), CLOSE)),
    }
    quality = QualityReport(5.0, 1.0, 1.0, 1.0, None, ())
    labels, faces = [], []
    for (folder, who), vectors in people.items():
        for n, vector in enumerate(vectors):
            photo = f"{folder}/{who}_{n}.jpg"
            labels.append(LabelledFile(photo, who))
            faces.append(Face(f"{photo}#0", photo, 0, (0, 0, 10, 10), 1.0, None, vector, quality))
    keys: list[str | None] = [f.key for f in faces]
    return labels, LabelledRun([], faces, keys, [], len(faces), 0, 0.0)


@pytest.mark.parametrize("tie_break", ["highest", "median"])
def test_the_tie_break_picks_from_the_tied_range(settings: Settings, tie_break: str) -> None:
    labels, run = _run()
    result = leave_one_source_out(labels, run, FaceAnalyzer(settings=settings), GRID, tie_break=tie_break)
    assert result["tie_break"] == tie_break
    held_b = next(f for f in result["folds"] if f["held_out"] == "b")
    low, high = held_b["tied_range"]
    # Folder a alone pins nothing below its different people (cosine 0), so every threshold up to
    # the two photos of one person (0.999) scores the same.
    assert low == GRID[0] and high == 0.995
    if tie_break == "highest":
        assert held_b["threshold"] == high and held_b["bcubed_f1"] == 1.0
    else:
        # The middle of the tied range merges the look-alikes of the held-out folder.
        assert low < held_b["threshold"] < 0.95 and held_b["bcubed_f1"] < 0.8


def test_an_unknown_tie_break_is_refused(settings: Settings) -> None:
    labels, run = _run()
    with pytest.raises(ValueError, match="tie_break"):
        leave_one_source_out(labels, run, FaceAnalyzer(settings=settings), GRID, tie_break="lowest")
