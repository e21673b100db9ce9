import numpy as np
import pytest

from vidpipe.domain.detections import Detections


def make(n: int = 3) -> Detections:
    xyxy = np.array([[0, 0, 10, 10], [5, 5, 20, 30], [100, 100, 150, 120]][:n], np.float32)
    return Detections.from_arrays(
        xyxy, [0.9, 0.5, 0.7][:n], [0, 1, 0][:n], class_names=("a", "b"),
        landmarks=np.arange(n * 10, dtype=np.float32).reshape(n, 5, 2),
    )  # fmt: skip


def test_shapes_are_validated() -> None:
    with pytest.raises(ValueError, match="confidence"):
        Detections(np.zeros((2, 4), np.float32), np.zeros(3, np.float32), np.zeros(2, np.int64))
    with pytest.raises(ValueError, match="xyxy"):
        Detections(np.zeros((2, 3), np.float32), np.zeros(2, np.float32), np.zeros(2, np.int64))
    with pytest.raises(ValueError, match="outside class_names"):
        Detections.from_arrays(np.zeros((1, 4)), [1.0], [5], class_names=("a",))


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        (1, [0.5]),
        (slice(0, 2), [0.9, 0.5]),
        ([2, 0], [0.7, 0.9]),
        (np.array([True, False, True]), [0.9, 0.7]),
        ([], []),
    ],
)
def test_indexing_keeps_rows_together(index: object, expected: list[float]) -> None:
    d = make()
    sub = d[index]  # type: ignore[index]
    assert sub.confidence.tolist() == pytest.approx(expected)
    assert sub.landmarks is not None and sub.landmarks.shape == (len(expected), 5, 2)
    assert sub.class_names == ("a", "b")


def test_names_sort_clip_and_records() -> None:
    d = make()
    assert d.names == ["a", "b", "a"]
    assert d.sorted_by_confidence().confidence.tolist() == pytest.approx([0.9, 0.7, 0.5])
    clipped = d.clip_to(15, 15)
    assert len(clipped) == 2  # the third box lies fully outside
    assert clipped.xyxy[1].tolist() == [5, 5, 15, 15]
    rec = d.to_records()[0]
    assert rec["class_name"] == "a" and rec["box"] == [0, 0, 10, 10] and len(rec["landmarks"]) == 5


def test_empty_and_merge() -> None:
    empty = Detections.empty(("face",), with_landmarks=5)
    assert len(empty) == 0 and empty.landmarks is not None and empty.landmarks.shape == (0, 5, 2)
    merged = Detections.merge([make(2), make(1)])
    assert len(merged) == 3 and merged.landmarks is not None
    assert Detections.from_arrays(np.zeros((0, 4)), np.zeros(0), landmarks=np.zeros((0, 5, 2))).landmarks.shape == (
        0,
        5,
        2,
    )  # type: ignore[union-attr]
