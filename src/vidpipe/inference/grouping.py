"""Grouping faces from many photos into people.

Constrained average-linkage clustering on cosine similarity:
- the faces are first put in a canonical order (by key), so the result does not depend on the
  order they were given in;
- "same person" decisions (must-link) are merged before anything else;
- two faces of one photo, and "not the same person" decisions (cannot-link), can never end up in
  one group: a merge that would join them is skipped;
- the two groups with the highest average similarity merge first, until no pair of groups is
  similar enough. Unlike greedy assignment in input order, an early face never captures a person
  that a later, better view would have placed elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from vidpipe.domain.detections import FloatArray
from vidpipe.errors import ConstraintError


@dataclass(frozen=True)
class FaceItem:
    """One face to group. ``key`` must be unique; ``photo`` names the image it came from."""

    key: str
    photo: str
    embedding: FloatArray
    quality: float = 0.0


@dataclass(frozen=True)
class FaceGroup:
    """A person: member keys in canonical order and the best-quality member as representative."""

    members: tuple[str, ...]
    representative: str
    cohesion: float = 1.0  # mean pairwise similarity inside the group (1.0 for a single face)


@dataclass
class Constraints:
    same: list[tuple[str, str]] = field(default_factory=list)
    different: list[tuple[str, str]] = field(default_factory=list)


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def group_faces(
    items: Sequence[FaceItem],
    threshold: float,
    *,
    same: Iterable[tuple[str, str]] = (),
    different: Iterable[tuple[str, str]] = (),
) -> list[FaceGroup]:
    """Partition ``items`` into people; groups sorted by size (largest first), then by first key.

    ``threshold`` is the lowest average cosine similarity at which two groups merge (use the face
    embedder's ``same_person_threshold``). ``same`` and ``different`` are pairs of keys a user
    decided on; contradictory decisions raise ConstraintError.
    """
    if not items:
        return []
    ordered = sorted(items, key=lambda it: it.key)
    keys = [it.key for it in ordered]
    if len(set(keys)) != len(keys):
        raise ValueError("face keys must be unique")
    index = {k: i for i, k in enumerate(keys)}
    n = len(ordered)

    def resolve(pairs: Iterable[tuple[str, str]], kind: str) -> list[tuple[int, int]]:
        out = []
        for a, b in pairs:
            if a not in index or b not in index:
                missing = a if a not in index else b
                raise ConstraintError(f"{kind} decision names face {missing!r}, which is not among the faces")
            out.append((index[a], index[b]))
        return out

    same_pairs = resolve(same, "'same person'")
    different_pairs = resolve(different, "'not the same person'")

    uf = _UnionFind(n)
    for a, b in same_pairs:
        uf.union(a, b)
    roots = sorted({uf.find(i) for i in range(n)})
    cluster_of = {r: c for c, r in enumerate(roots)}
    members: list[list[int]] = [[] for _ in roots]
    for i in range(n):
        members[cluster_of[uf.find(i)]].append(i)

    # Cannot-link at the level of the starting clusters: same photo, or a user's "different".
    m = len(members)
    label = np.asarray([cluster_of[uf.find(i)] for i in range(n)])
    blocked = np.zeros((m, m), dtype=bool)
    photos = np.asarray([it.photo for it in ordered])
    same_photo = photos[:, None] == photos[None, :]
    np.fill_diagonal(same_photo, False)
    ia, ib = np.nonzero(same_photo)
    blocked[label[ia], label[ib]] = True
    for a, b in different_pairs:
        blocked[label[a], label[b]] = blocked[label[b], label[a]] = True
    conflicts = [c for c in range(m) if blocked[c, c]]
    if conflicts:
        names = ", ".join(keys[i] for i in members[conflicts[0]])
        raise ConstraintError(
            f"'same person' decisions join faces that are in one photo or marked as different people: {names}"
        )

    emb = np.stack([np.asarray(it.embedding, np.float32) for it in ordered])
    emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    pair_sim = emb @ emb.T
    # Cluster-level sums of similarities; average = sum / (size_a * size_b).
    onehot = np.zeros((m, n), np.float64)
    onehot[label, np.arange(n)] = 1.0
    sums = onehot @ pair_sim.astype(np.float64) @ onehot.T
    sizes = onehot.sum(axis=1)
    active = np.ones(m, dtype=bool)

    while True:
        avg = sums / np.outer(sizes, sizes)
        candidate = avg.copy()
        candidate[blocked] = -np.inf
        candidate[~active, :] = -np.inf
        candidate[:, ~active] = -np.inf
        np.fill_diagonal(candidate, -np.inf)
        candidate[np.tril_indices(m)] = -np.inf
        best = int(np.argmax(candidate))  # first maximum in canonical order breaks ties
        a, b = divmod(best, m)
        if not np.isfinite(candidate[a, b]) or candidate[a, b] < threshold:
            break
        # Merge b into a: sums add up (Lance–Williams for average linkage), constraints are inherited.
        sums[a, :] += sums[b, :]
        sums[:, a] += sums[:, b]
        sizes[a] += sizes[b]
        blocked[a, :] |= blocked[b, :]
        blocked[:, a] |= blocked[:, b]
        active[b] = False
        members[a].extend(members[b])
        members[b] = []

    groups = []
    for c in np.nonzero(active)[0]:
        idx = sorted(members[c])
        best_face = max(idx, key=lambda i: (ordered[i].quality, -i))
        size = len(idx)
        cohesion = 1.0 if size == 1 else float((pair_sim[np.ix_(idx, idx)].sum() - size) / (size * (size - 1)))
        groups.append(FaceGroup(members=tuple(keys[i] for i in idx), representative=keys[best_face], cohesion=cohesion))
    groups.sort(key=lambda g: (-len(g.members), g.members[0]))
    return groups
