"""BCubed and pairwise clustering scores: hand-computed cases, limits, invariances, None, errors."""

from __future__ import annotations

import random
from collections.abc import Callable, Hashable, Sequence

import pytest

from vidpipe.evaluation.clustering import bcubed, pairwise_f1

Metric = Callable[[Sequence[Hashable], Sequence[Hashable]], tuple[float, float, float]]

TRUE = ["a", "a", "b", "b"]
PRED = [1, 1, 1, 2]


def test_bcubed_hand_computed() -> None:
    # true a a b b, pred 1 1 1 2. Pred clusters {0,1,2} {3}; true clusters {0,1} {2,3}.
    # item 0: P∩T = {0,1}: precision 2/3, recall 2/2
    # item 1: same as item 0:       precision 2/3, recall 1
    # item 2: P = {0,1,2}, T = {2,3}, P∩T = {2}: precision 1/3, recall 1/2
    # item 3: P = {3}, T = {2,3}, P∩T = {3}: precision 1/1, recall 1/2
    # precision = (2/3 + 2/3 + 1/3 + 1) / 4 = (8/3) / 4 = 2/3
    # recall    = (1 + 1 + 1/2 + 1/2) / 4 = 3/4
    # F1 = 2 · (2/3)(3/4) / (2/3 + 3/4) = 1 / (17/12) = 12/17
    p, r, f = bcubed(TRUE, PRED)
    assert p == pytest.approx(2 / 3)
    assert r == pytest.approx(3 / 4)
    assert f == pytest.approx(12 / 17)


def test_pairwise_hand_computed() -> None:
    # Pairs of 4 items: 6. Together in pred 1 1 1 2: (0,1) (0,2) (1,2) = 3 pairs.
    # Together in truth a a b b: (0,1) (2,3) = 2 pairs. Together in both: (0,1) = 1.
    # precision 1/3, recall 1/2, F1 = 2 · (1/6) / (5/6) = 2/5.
    p, r, f = pairwise_f1(TRUE, PRED)
    assert p == pytest.approx(1 / 3)
    assert r == pytest.approx(1 / 2)
    assert f == pytest.approx(2 / 5)


def test_second_hand_computed_example() -> None:
    # true x x x y y, pred 0 0 1 1 1.
    # BCubed: item0: P{0,1} T{0,1,2} ∩{0,1}: p 2/2, r 2/3; item1 same; item2: P{2,3,4} T{0,1,2} ∩{2}: p 1/3,
    # r 1/3; item3: P{2,3,4} T{3,4} ∩{3,4}: p 2/3, r 2/2; item4 same.
    # precision = (1 + 1 + 1/3 + 2/3 + 2/3) / 5 = (11/3) / 5 = 11/15;
    # recall = (2/3 + 2/3 + 1/3 + 1 + 1) / 5 = (11/3) / 5 = 11/15; F1 = 11/15.
    p, r, f = bcubed(list("xxxyy"), [0, 0, 1, 1, 1])
    assert (p, r, f) == pytest.approx((11 / 15, 11 / 15, 11 / 15))
    # Pairwise: pred pairs (0,1) (2,3) (2,4) (3,4) = 4; true pairs (0,1) (0,2) (1,2) (3,4) = 4;
    # both: (0,1) (3,4) = 2 → precision 1/2, recall 1/2, F1 1/2.
    assert pairwise_f1(list("xxxyy"), [0, 0, 1, 1, 1]) == pytest.approx((0.5, 0.5, 0.5))


@pytest.mark.parametrize("metric", [bcubed, pairwise_f1])
def test_perfect_clustering_scores_one_whatever_the_label_names(metric: Metric) -> None:
    true = ["ann", "ann", "bob", "cy", "bob", "ann"]
    pred = [7, 7, 3, 0, 3, 7]
    assert metric(true, pred) == pytest.approx((1.0, 1.0, 1.0))
    assert metric(true, true) == pytest.approx((1.0, 1.0, 1.0))


def test_all_singletons() -> None:
    true = ["a", "a", "a", "b"]
    singletons = [0, 1, 2, 3]
    # BCubed: precision 1 per item; recall 1/3 for the three a's and 1 for b → (1+1+1+3)/12 = 1/2.
    p, r, f = bcubed(true, singletons)
    assert (p, r) == pytest.approx((1.0, 0.5))
    assert f == pytest.approx(2 * 0.5 / 1.5)
    # Pairwise: no predicted pair → precision 1.0 by definition, recall 0 of 3 true pairs, F1 0.
    assert pairwise_f1(true, singletons) == pytest.approx((1.0, 0.0, 0.0))


def test_all_in_one_cluster() -> None:
    true = ["a", "a", "a", "b"]
    one = ["x"] * 4
    # BCubed: recall 1 per item; precision 3/4 for the a's, 1/4 for b → (9/4 + 1/4)/4 = 5/8.
    p, r, f = bcubed(true, one)
    assert (p, r) == pytest.approx((5 / 8, 1.0))
    assert f == pytest.approx(2 * (5 / 8) / (13 / 8))
    # Pairwise: 6 predicted pairs, 3 true ones, all 3 inside → precision 1/2, recall 1.
    assert pairwise_f1(true, one) == pytest.approx((0.5, 1.0, 2 / 3))


def test_no_pairs_on_either_side_is_perfect() -> None:
    assert pairwise_f1(["a", "b", "c"], [1, 2, 3]) == (1.0, 1.0, 1.0)
    assert pairwise_f1(["a"], [None]) == (1.0, 1.0, 1.0)
    assert bcubed(["a", "b", "c"], [1, 2, 3]) == (1.0, 1.0, 1.0)


def test_merging_against_all_singleton_truth() -> None:
    # No true pair: recall 1.0 by definition, precision 0 of 1 predicted pair.
    assert pairwise_f1(["a", "b", "c"], [1, 1, 2]) == pytest.approx((0.0, 1.0, 0.0))


@pytest.mark.parametrize("metric", [bcubed, pairwise_f1])
def test_permutation_invariance(metric: Metric) -> None:
    rng = random.Random(3)
    true = [rng.choice("abcde") for _ in range(40)]
    pred = [rng.choice([0, 1, 2, None]) for _ in range(40)]
    base = metric(true, pred)
    order = list(range(40))
    for _ in range(5):
        rng.shuffle(order)
        shuffled = metric([true[i] for i in order], [pred[i] for i in order])
        assert shuffled == pytest.approx(base)
    # Renaming clusters changes nothing either.
    renamed = [None if p is None else f"cluster-{p}" for p in pred]
    assert metric(true, renamed) == pytest.approx(base)


def test_none_predictions_are_singletons() -> None:
    # true a a a, pred 1 1 None: the miss is alone, not with its cluster-mates.
    # BCubed: items 0, 1: P{0,1} T{0,1,2}: p 1, r 2/3; item 2: P{2}: p 1, r 1/3 → recall 5/9.
    p, r, _ = bcubed(["a", "a", "a"], [1, 1, None])
    assert (p, r) == pytest.approx((1.0, 5 / 9))
    # Pairwise: pred pairs (0,1); true pairs 3 → precision 1, recall 1/3.
    assert pairwise_f1(["a", "a", "a"], [1, 1, None])[:2] == pytest.approx((1.0, 1 / 3))


def test_two_nones_are_not_one_cluster() -> None:
    # If the Nones formed a cluster this would be perfect; as singletons they cost recall only.
    true = ["a", "a", "b", "b"]
    pred = [None, None, 5, 5]
    p, r, _ = bcubed(true, pred)
    assert (p, r) == pytest.approx((1.0, 0.75))  # recall (1/2 + 1/2 + 1 + 1) / 4
    assert pairwise_f1(true, pred)[:2] == pytest.approx((1.0, 0.5))
    assert bcubed(true, pred) == bcubed(true, [None, "other", 5, 5])


@pytest.mark.parametrize("metric", [bcubed, pairwise_f1])
def test_length_mismatch_is_rejected(metric: Metric) -> None:
    with pytest.raises(ValueError, match="true_labels has 3 items but pred_labels has 2"):
        metric(["a", "a", "b"], [1, 1])


@pytest.mark.parametrize("metric", [bcubed, pairwise_f1])
def test_empty_and_none_truth_are_rejected(metric: Metric) -> None:
    with pytest.raises(ValueError, match="empty"):
        metric([], [])
    with pytest.raises(ValueError, match="true_labels must not contain None"):
        metric(["a", None], [1, 2])


def test_large_input_matches_brute_force() -> None:
    rng = random.Random(11)
    n = 60
    true = [rng.randrange(6) for _ in range(n)]
    pred = [rng.choice([0, 1, 2, 3, None]) for _ in range(n)]
    pred_key = [("none", i) if p is None else p for i, p in enumerate(pred)]
    # BCubed, item by item.
    prec = [
        sum(pred_key[j] == pred_key[i] and true[j] == true[i] for j in range(n))
        / sum(pred_key[j] == pred_key[i] for j in range(n))
        for i in range(n)
    ]
    rec = [
        sum(pred_key[j] == pred_key[i] and true[j] == true[i] for j in range(n))
        / sum(true[j] == true[i] for j in range(n))
        for i in range(n)
    ]
    p, r, _ = bcubed(true, pred)
    assert (p, r) == pytest.approx((sum(prec) / n, sum(rec) / n))
    # Pairwise, pair by pair.
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    same_pred = {(i, j) for i, j in pairs if pred_key[i] == pred_key[j]}
    same_true = {(i, j) for i, j in pairs if true[i] == true[j]}
    both = len(same_pred & same_true)
    assert pairwise_f1(true, pred)[:2] == pytest.approx((both / len(same_pred), both / len(same_true)))
