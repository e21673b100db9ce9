"""Embedding vectors: unit length, cosine similarity, and bytes for database columns.

Every embedder (faces, images) returns L2-normalised float32 rows, so a dot product is a cosine.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]

# Below this norm a row is treated as zero (left as zeros instead of dividing by ~0).
_EPS = 1e-12


def l2_normalise(rows: npt.ArrayLike) -> FloatArray:
    """Each row of a (N, D) array divided by its L2 norm; all-zero rows stay zero."""
    arr = np.asarray(rows, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[None]
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    out: FloatArray = (arr / np.maximum(norms, _EPS)).astype(np.float32, copy=False)
    return out


def cosine_similarity(a: npt.ArrayLike, b: npt.ArrayLike) -> FloatArray:
    """(N, M) cosine similarities between the rows of ``a`` (N, D) and ``b`` (M, D).

    1-D inputs count as a single row, so the result is always 2-D. Rows need not be normalised.
    """
    x = np.asarray(a, dtype=np.float32)
    y = np.asarray(b, dtype=np.float32)
    x = x[None] if x.ndim == 1 else x
    y = y[None] if y.ndim == 1 else y
    if x.ndim != 2 or y.ndim != 2:
        raise ValueError(f"cosine_similarity needs (N, D) and (M, D) arrays, got shapes {x.shape} and {y.shape}")
    if x.shape[1] != y.shape[1]:
        raise ValueError(
            f"cosine_similarity needs rows of the same length, got {x.shape[1]} and {y.shape[1]} dimensions"
        )
    out: FloatArray = (l2_normalise(x) @ l2_normalise(y).T).astype(np.float32, copy=False)
    return out


_BYTES_DTYPE = np.dtype("<f4")


def embedding_to_bytes(vector: npt.ArrayLike) -> bytes:
    """One embedding (D,) as float32 little-endian bytes (4·D bytes), for a database column."""
    arr = np.asarray(vector)
    if arr.ndim == 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"embedding_to_bytes needs one non-empty (D,) vector, got shape {arr.shape}")
    return arr.astype(_BYTES_DTYPE).tobytes()


def embedding_from_bytes(data: bytes | bytearray | memoryview, dim: int | None = None) -> FloatArray:
    """The (D,) float32 vector that ``embedding_to_bytes`` wrote; ``dim`` checks the length."""
    raw = bytes(data)
    size = _BYTES_DTYPE.itemsize
    if dim is not None:
        if dim <= 0:
            raise ValueError(f"embedding_from_bytes: dim must be positive, got {dim}")
        if len(raw) != dim * size:
            raise ValueError(
                f"embedding_from_bytes: expected {dim * size} bytes ({dim} float32 values), got {len(raw)} bytes"
            )
    elif len(raw) == 0 or len(raw) % size:
        raise ValueError(
            f"embedding_from_bytes: expected a non-empty multiple of {size} bytes (float32 values), "
            f"got {len(raw)} bytes"
        )
    out: FloatArray = np.frombuffer(raw, dtype=_BYTES_DTYPE).astype(np.float32)  # native order, writable
    return out
