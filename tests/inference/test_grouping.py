"""Identity grouping on synthetic embeddings: order independence, the same-photo rule, user decisions."""

import itertools
import random

import numpy as np
import pytest

from vidpipe.errors import ConstraintError
from vidpipe.inference.grouping import FaceItem, group_faces


def person_items(seed: int = 0) -> list[FaceItem]:
    """Three people, four photos each, embeddings scattered around a centre per person."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, 64))
    items = []
    for p, centre in enumerate(centres):
        for k in range(4):
            v = centre + 0.25 * rng.normal(size=64)
            items.append(FaceItem(key=f"p{p}_{k}", photo=f"photo_{p}_{k}", embedding=v.astype(np.float32), quality=k))
    return items


def partition(groups: list) -> set[frozenset[str]]:  # type: ignore[type-arg]
    return {frozenset(g.members) for g in groups}


def test_groups_people_and_picks_best_quality_representative() -> None:
    groups = group_faces(person_items(), 0.5)
    assert partition(groups) == {frozenset(f"p{p}_{k}" for k in range(4)) for p in range(3)}
    assert {g.representative for g in groups} == {"p0_3", "p1_3", "p2_3"}
    assert all(0.5 < g.cohesion <= 1.0 for g in groups)


def test_same_result_for_any_input_order() -> None:
    items = person_items(1)
    # A borderline face halfway between two people is where greedy, order-dependent grouping differs.
    mid = (items[0].embedding + items[4].embedding) / 2
    items.append(FaceItem("between", "photo_x", mid.astype(np.float32)))
    reference = group_faces(items, 0.5)
    rng = random.Random(7)
    for _ in range(20):
        shuffled = items[:]
        rng.shuffle(shuffled)
        assert group_faces(shuffled, 0.5) == reference


def test_faces_of_one_photo_never_share_a_group() -> None:
    rng = np.random.default_rng(3)
    v = rng.normal(size=32).astype(np.float32)
    twins = [
        FaceItem("a", "group.jpg", v),
        FaceItem("b", "group.jpg", v + 0.01),
        FaceItem("c", "other.jpg", v),
    ]
    groups = group_faces(twins, 0.5)
    for g in groups:
        photos = [m for m in g.members if m in ("a", "b")]
        assert len(photos) <= 1
    assert len(groups) == 2


def test_user_decisions_are_honoured() -> None:
    items = person_items(2)
    split = group_faces(items, 0.5, different=[("p0_0", "p0_1")])
    assert not any({"p0_0", "p0_1"} <= set(g.members) for g in split)
    joined = group_faces(items, 0.5, same=[("p0_0", "p1_0")])
    assert any({"p0_0", "p1_0"} <= set(g.members) for g in joined)


def test_contradictions_and_unknown_keys_are_refused() -> None:
    items = person_items()
    with pytest.raises(ConstraintError, match="same person"):
        group_faces(items, 0.5, same=[("p0_0", "p0_1")], different=[("p0_0", "p0_1")])
    with pytest.raises(ConstraintError, match="nobody"):
        group_faces(items, 0.5, same=[("p0_0", "nobody")])
    same_photo = [
        FaceItem("a", "x.jpg", np.ones(4, np.float32)),
        FaceItem("b", "x.jpg", np.ones(4, np.float32)),
    ]
    with pytest.raises(ConstraintError):
        group_faces(same_photo, 0.5, same=[("a", "b")])


def test_threshold_controls_merging_and_empty_input() -> None:
    items = person_items()
    assert len(group_faces(items, 0.999)) == len(items)
    assert len(group_faces(items, -1.0)) == 1
    assert group_faces([], 0.5) == []
    with pytest.raises(ValueError, match="unique"):
        group_faces([items[0], items[0]], 0.5)


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_three_way_tie_is_order_independent(order: tuple[int, int, int]) -> None:
    v = np.array([1.0, 0.0], np.float32)
    base = [FaceItem("x", "1", v), FaceItem("y", "2", v), FaceItem("z", "3", v)]
    groups = group_faces([base[i] for i in order], 0.5, different=[("x", "z")])
    assert partition(groups) == {frozenset({"x", "y"}), frozenset({"z"})}
