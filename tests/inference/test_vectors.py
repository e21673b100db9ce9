"""Embedding vectors: unit length, cosine similarity and the bytes round trip."""

from __future__ import annotations

import re
import struct

import numpy as np
import pytest

from vidpipe.inference.vectors import cosine_similarity, embedding_from_bytes, embedding_to_bytes, l2_normalise


def test_bytes_round_trip_is_exact_float32_little_endian() -> None:
    vector = np.random.default_rng(0).standard_normal(1024).astype(np.float32)
    data = embedding_to_bytes(vector)
    assert len(data) == 4 * 1024
    assert struct.unpack("<f", data[:4])[0] == vector[0]
    back = embedding_from_bytes(data, dim=1024)
    assert back.dtype == np.float32
    assert back.shape == (1024,)
    np.testing.assert_array_equal(back, vector)
    back[0] = 1.0  # a writable copy, not a view of the bytes
    np.testing.assert_array_equal(embedding_from_bytes(data), vector)


def test_bytes_accepts_float64_and_one_row() -> None:
    vector = np.array([0.5, -0.25, 1.0])
    assert embedding_from_bytes(embedding_to_bytes(vector)).tolist() == [0.5, -0.25, 1.0]
    assert embedding_to_bytes(vector[None]) == embedding_to_bytes(vector)


@pytest.mark.parametrize(
    ("data", "dim", "message"),
    [
        (b"\x00" * 4095, None, "multiple of 4 bytes"),
        (b"", None, "got 0 bytes"),
        (b"\x00" * 2048, 1024, "expected 4096 bytes (1024 float32 values), got 2048 bytes"),
        (b"\x00" * 4, 0, "dim must be positive"),
    ],
)
def test_bytes_bad_length_is_a_clear_error(data: bytes, dim: int | None, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        embedding_from_bytes(data, dim=dim)


def test_to_bytes_refuses_a_matrix() -> None:
    with pytest.raises(ValueError, match=r"one non-empty \(D,\) vector"):
        embedding_to_bytes(np.zeros((2, 4), np.float32))


def test_cosine_similarity_matrix() -> None:
    a = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]], np.float32)
    b = np.array([[2.0, 0.0], [-1.0, 0.0]], np.float32)
    sims = cosine_similarity(a, b)
    assert sims.shape == (3, 2)
    assert sims.dtype == np.float32
    np.testing.assert_allclose(sims, [[1.0, -1.0], [0.0, 0.0], [np.sqrt(0.5), -np.sqrt(0.5)]], atol=1e-6)


def test_cosine_similarity_vectors_and_errors() -> None:
    assert cosine_similarity([1.0, 1.0], [1.0, 1.0]).shape == (1, 1)
    np.testing.assert_allclose(cosine_similarity([1.0, 1.0], [[1.0, 1.0], [1.0, -1.0]]), [[1.0, 0.0]], atol=1e-6)
    with pytest.raises(ValueError, match="same length"):
        cosine_similarity(np.ones((2, 3)), np.ones((2, 4)))
    # A zero vector is similar to nothing, not NaN.
    assert cosine_similarity([0.0, 0.0], [1.0, 0.0])[0, 0] == 0.0


def test_l2_normalise_rows() -> None:
    rows = l2_normalise(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(rows, [[0.6, 0.8], [0.0, 0.0]])
    assert rows.dtype == np.float32
