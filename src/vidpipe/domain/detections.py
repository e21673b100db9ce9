"""The one container every detector returns and every consumer takes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


def _landmarks_array(landmarks: np.ndarray[Any, Any], n: int) -> FloatArray:
    arr = np.asarray(landmarks, np.float32)
    if n == 0:
        return arr.reshape(0, arr.shape[1] if arr.ndim == 3 else 0, 2)
    return arr.reshape(n, -1, 2)


@dataclass(frozen=True)
class Detections:
    """Parallel arrays for N detections, in source-image pixels.

    ``xyxy``: (N, 4) float32 boxes x1, y1, x2, y2. ``confidence``: (N,) float32.
    ``class_id``: (N,) int64 indices into ``class_names``. ``landmarks``: (N, K, 2) float32 or None
    (faces: K = 5, the left eye, right eye, nose tip, left and right mouth corner as seen in the image).
    ``class_names`` maps ids to names; it is shared, not per row.
    """

    xyxy: FloatArray
    confidence: FloatArray
    class_id: IntArray
    class_names: tuple[str, ...] = ()
    landmarks: FloatArray | None = None
    data: dict[str, np.ndarray[Any, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.xyxy)
        if self.xyxy.shape != (n, 4):
            raise ValueError(f"xyxy must have shape (N, 4), got {self.xyxy.shape}")
        if self.confidence.shape != (n,):
            raise ValueError(f"confidence must have shape ({n},), got {self.confidence.shape}")
        if self.class_id.shape != (n,):
            raise ValueError(f"class_id must have shape ({n},), got {self.class_id.shape}")
        if self.landmarks is not None and (self.landmarks.ndim != 3 or self.landmarks.shape[0] != n):
            raise ValueError(f"landmarks must have shape ({n}, K, 2), got {self.landmarks.shape}")
        for key, value in self.data.items():
            if len(value) != n:
                raise ValueError(f"data[{key!r}] has {len(value)} rows, expected {n}")
        if n and self.class_names and int(self.class_id.max()) >= len(self.class_names):
            raise ValueError(
                f"class_id {int(self.class_id.max())} is outside class_names (len {len(self.class_names)})"
            )

    @classmethod
    def empty(cls, class_names: Sequence[str] = (), with_landmarks: int = 0) -> Detections:
        """No detections; ``with_landmarks`` > 0 gives an empty (0, K, 2) landmark array."""
        return cls(
            xyxy=np.zeros((0, 4), np.float32),
            confidence=np.zeros((0,), np.float32),
            class_id=np.zeros((0,), np.int64),
            class_names=tuple(class_names),
            landmarks=np.zeros((0, with_landmarks, 2), np.float32) if with_landmarks else None,
        )

    @classmethod
    def from_arrays(
        cls,
        xyxy: np.ndarray[Any, Any],
        confidence: np.ndarray[Any, Any],
        class_id: np.ndarray[Any, Any] | None = None,
        *,
        class_names: Sequence[str] = (),
        landmarks: np.ndarray[Any, Any] | None = None,
    ) -> Detections:
        """Build from any numeric arrays, casting to the container's dtypes."""
        n = len(xyxy)
        return cls(
            xyxy=np.asarray(xyxy, np.float32).reshape(n, 4),
            confidence=np.asarray(confidence, np.float32).reshape(n),
            class_id=(np.zeros(n, np.int64) if class_id is None else np.asarray(class_id, np.int64).reshape(n)),
            class_names=tuple(class_names),
            landmarks=None if landmarks is None else _landmarks_array(landmarks, n),
        )

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: int | slice | Sequence[int] | np.ndarray[Any, Any]) -> Detections:
        """Select rows by int, slice, index list or boolean mask; always returns Detections."""
        if isinstance(index, int):
            index = [index]
        idx: Any = index
        if not isinstance(index, slice):
            idx = np.asarray(index)
            if idx.dtype != np.bool_:
                idx = idx.astype(np.int64)  # an empty list would otherwise index as float
        return Detections(
            xyxy=self.xyxy[idx],
            confidence=self.confidence[idx],
            class_id=self.class_id[idx],
            class_names=self.class_names,
            landmarks=None if self.landmarks is None else self.landmarks[idx],
            data={k: v[idx] for k, v in self.data.items()},
        )

    def __iter__(self) -> Iterator[Detections]:
        for i in range(len(self)):
            yield self[i]

    @property
    def names(self) -> list[str]:
        """The class name of each row (``str(id)`` where names are unknown)."""
        return [self.class_names[c] if c < len(self.class_names) else str(c) for c in self.class_id.tolist()]

    @property
    def area(self) -> FloatArray:
        wh = np.clip(self.xyxy[:, 2:] - self.xyxy[:, :2], 0, None)
        return np.asarray(wh[:, 0] * wh[:, 1], dtype=np.float32)

    def sorted_by_confidence(self) -> Detections:
        # A stable sort keeps equal scores in their original order, so results are reproducible.
        return self[np.argsort(-self.confidence, kind="stable")]

    def clip_to(self, width: int, height: int) -> Detections:
        """Boxes (and landmarks) limited to the image; rows that end up empty are dropped."""
        xyxy = self.xyxy.copy()
        xyxy[:, [0, 2]] = np.clip(xyxy[:, [0, 2]], 0, width)
        xyxy[:, [1, 3]] = np.clip(xyxy[:, [1, 3]], 0, height)
        keep = (xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])
        clipped = Detections(
            xyxy=xyxy,
            confidence=self.confidence,
            class_id=self.class_id,
            class_names=self.class_names,
            landmarks=self.landmarks,
            data=self.data,
        )
        return clipped[keep]

    @staticmethod
    def merge(parts: Sequence[Detections]) -> Detections:
        """Concatenate detections that share class names."""
        if not parts:
            return Detections.empty()
        first = parts[0]
        lms = [p.landmarks for p in parts]
        return Detections(
            xyxy=np.concatenate([p.xyxy for p in parts]),
            confidence=np.concatenate([p.confidence for p in parts]),
            class_id=np.concatenate([p.class_id for p in parts]),
            class_names=first.class_names,
            landmarks=None if any(lm is None for lm in lms) else np.concatenate(lms),  # type: ignore[arg-type]
        )

    def to_records(self) -> list[dict[str, Any]]:
        """JSON-ready rows: box as [x1, y1, x2, y2] rounded to 0.1 px, score to 4 digits."""
        rows: list[dict[str, Any]] = []
        for i, name in enumerate(self.names):
            row: dict[str, Any] = {
                "class_id": int(self.class_id[i]),
                "class_name": name,
                "confidence": round(float(self.confidence[i]), 4),
                "box": [round(float(v), 1) for v in self.xyxy[i]],
            }
            if self.landmarks is not None:
                row["landmarks"] = [[round(float(x), 1), round(float(y), 1)] for x, y in self.landmarks[i]]
            rows.append(row)
        return rows
