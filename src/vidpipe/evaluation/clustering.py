"""Scores for a clustering of items (faces, shots) against true identity labels; numpy only.

Both functions take one true and one predicted label per item, in the same order. Labels are any
hashable values; only which items share a label matters, never the label itself.

Missing predictions: a predicted label of ``None`` (for example a face the detector did not find)
puts that item in a cluster of its own; two ``None`` items are *not* in the same cluster. A miss
therefore costs recall (its true cluster-mates are not with it) but never precision.

True labels must not be ``None``: give an unknown person a label of their own instead.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import numpy.typing as npt

_IntArray = npt.NDArray[np.int64]


def _encode(labels: Sequence[Hashable], *, none_is_singleton: bool) -> _IntArray:
    """Cluster index per item; with ``none_is_singleton`` every ``None`` gets a new index."""
    index: dict[Hashable, int] = {}
    codes = np.empty(len(labels), dtype=np.int64)
    next_code = 0
    for i, label in enumerate(labels):
        if label is None and none_is_singleton:
            codes[i] = next_code
            next_code += 1
            continue
        code = index.get(label)
        if code is None:
            code = index[label] = next_code
            next_code += 1
        codes[i] = code
    return codes


def _check(true_labels: Sequence[Hashable], pred_labels: Sequence[Hashable]) -> tuple[_IntArray, _IntArray]:
    if len(true_labels) != len(pred_labels):
        raise ValueError(
            f"true_labels has {len(true_labels)} items but pred_labels has {len(pred_labels)}; "
            "give exactly one label per item in each"
        )
    if len(true_labels) == 0:
        raise ValueError("true_labels and pred_labels are empty; there is no clustering to score")
    if any(label is None for label in true_labels):
        raise ValueError("true_labels must not contain None; give each unknown item a label of its own")
    return (
        _encode(true_labels, none_is_singleton=False),
        _encode(pred_labels, none_is_singleton=True),
    )


def _cells(true_codes: _IntArray, pred_codes: _IntArray) -> tuple[_IntArray, _IntArray]:
    """Per item: the index of its (true, pred) cell, and the size of every cell."""
    keys = true_codes * (int(pred_codes.max()) + 1) + pred_codes
    _, cell_of_item, cell_sizes = np.unique(keys, return_inverse=True, return_counts=True)
    return cell_of_item.reshape(-1).astype(np.int64), cell_sizes.astype(np.int64)


def _f1(precision: float, recall: float) -> float:
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def bcubed(true_labels: Sequence[Hashable], pred_labels: Sequence[Hashable]) -> tuple[float, float, float]:
    """BCubed (precision, recall, F1), Amigó et al. 2009.

    For item i with predicted cluster P(i) and true cluster T(i): precision_i = |P(i) ∩ T(i)| / |P(i)|,
    recall_i = |P(i) ∩ T(i)| / |T(i)|. Precision and recall are the means over items; F1 is the
    harmonic mean of those two means. See the module docstring for ``None`` predictions.
    """
    true_codes, pred_codes = _check(true_labels, pred_labels)
    cell_of_item, cell_sizes = _cells(true_codes, pred_codes)
    overlap = cell_sizes[cell_of_item].astype(np.float64)
    pred_size = np.bincount(pred_codes)[pred_codes]
    true_size = np.bincount(true_codes)[true_codes]
    precision = float(np.mean(overlap / pred_size))
    recall = float(np.mean(overlap / true_size))
    return precision, recall, _f1(precision, recall)


def _pairs(sizes: _IntArray) -> int:
    """Number of unordered pairs inside groups of the given sizes, exactly (Python ints)."""
    return sum(int(s) * (int(s) - 1) // 2 for s in sizes.tolist())


def pairwise_f1(true_labels: Sequence[Hashable], pred_labels: Sequence[Hashable]) -> tuple[float, float, float]:
    """Pair-counting (precision, recall, F1) over all unordered pairs of items.

    A pair is positive when both items share a cluster. precision = pairs together in both / pairs
    together in the prediction; recall = pairs together in both / pairs together in the truth.

    Empty denominators: with no predicted pairs precision is 1.0 (no wrong merge was made); with no
    true pairs recall is 1.0 (nothing to recover). So when neither side has a pair (all singletons on
    both sides, or a single item) the result is (1.0, 1.0, 1.0); all-singleton predictions against a
    truth with pairs give (1.0, 0.0, 0.0), and any merge against an all-singleton truth gives
    (0.0, 1.0, 0.0). F1 is 0.0 when precision and recall are both 0.
    See the module docstring for ``None`` predictions.
    """
    true_codes, pred_codes = _check(true_labels, pred_labels)
    _, cell_sizes = _cells(true_codes, pred_codes)
    together_both = _pairs(cell_sizes)
    together_pred = _pairs(np.bincount(pred_codes))
    together_true = _pairs(np.bincount(true_codes))
    precision = 1.0 if together_pred == 0 else together_both / together_pred
    recall = 1.0 if together_true == 0 else together_both / together_true
    return precision, recall, _f1(precision, recall)
