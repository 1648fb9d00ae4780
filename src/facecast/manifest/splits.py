"""Subject-grouped splits: nobody's footage, and no cast identity, in two splits.

Two subjects are tied when the same synthetic identity plays in published
images of both (a face model could otherwise learn the identity in train and
recognise it in test). The connected groups of subjects and identities
(union-find over the (subject, identity) pairs of the published images) are
each assigned whole to one split. Among all assignments, the one whose share
of published images per split is closest to the targets (sum of absolute
gaps) is chosen: by trying every assignment when there are few groups, else
greedily, largest group first, each to the split furthest below its target.
Ties are broken by a generator seeded from ``seed``.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass

import numpy as np

EXHAUSTIVE_MAX = 200_000  # assignments tried one by one; beyond this, greedy
_TIE = 1e-9


@dataclass(frozen=True)
class Group:
    subjects: tuple[str, ...]
    identities: tuple[str, ...]
    images: int


@dataclass(frozen=True)
class Assignment:
    splits: tuple[str, ...]  # the split of each group, in the order of the groups
    method: str  # exhaustive | greedy | none
    counts: dict[str, int]  # published images per split
    shares: dict[str, float]
    gaps: dict[str, float]  # achieved - target per split


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[tuple[str, str], tuple[str, str]] = {}

    def find(self, node: tuple[str, str]) -> tuple[str, str]:
        self.parent.setdefault(node, node)
        root = node
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[node] != root:  # path compression
            self.parent[node], node = root, self.parent[node]
        return root

    def union(self, a: tuple[str, str], b: tuple[str, str]) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def groups(images: list[tuple[str, list[str]]]) -> list[Group]:
    """The connected groups of ``images``, each given as (subject key, identity ids in the image).

    Groups are returned in a canonical order (by their first subject), so the
    result does not depend on the order of the images.
    """
    uf = _UnionFind()
    for subject, identities in images:
        uf.find(("s", subject))
        for identity in identities:
            uf.union(("s", subject), ("i", identity))
    members: dict[tuple[str, str], tuple[set[str], set[str]]] = {}
    counts: dict[tuple[str, str], int] = {}
    for node in list(uf.parent):
        found_subjects, found_identities = members.setdefault(uf.find(node), (set(), set()))
        (found_subjects if node[0] == "s" else found_identities).add(node[1])
    for subject, _ in images:
        root = uf.find(("s", subject))
        counts[root] = counts.get(root, 0) + 1
    out = [Group(tuple(sorted(s)), tuple(sorted(i)), counts.get(root, 0)) for root, (s, i) in members.items()]
    return sorted(out, key=lambda g: g.subjects)


def _rng(seed: int) -> np.random.Generator:
    salt = int.from_bytes(hashlib.sha256(b"facecast.manifest.splits").digest()[:8], "big")
    return np.random.default_rng([seed, salt])


def _summary(names: list[str], targets: np.ndarray, weights: np.ndarray, chosen: np.ndarray, method: str) -> Assignment:
    counts = (
        np.bincount(chosen, weights=weights, minlength=len(names)).astype(np.int64)
        if len(chosen)
        else np.zeros(len(names), np.int64)
    )
    total = int(counts.sum())
    shares = counts / total if total else np.zeros(len(names))
    return Assignment(
        tuple(names[i] for i in chosen),
        method,
        {n: int(c) for n, c in zip(names, counts)},
        {n: float(s) for n, s in zip(names, shares)},
        {n: float(s - t) for n, s, t in zip(names, shares, targets)},
    )


def _exhaustive(weights: np.ndarray, targets: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    k, n = len(targets), len(weights)
    total = weights.sum()
    best_cost = np.inf
    best: list[np.ndarray] = []
    batch = 4096
    product = itertools.product(range(k), repeat=n)
    while True:
        chunk = np.array(list(itertools.islice(product, batch)), np.int64).reshape(-1, n)
        if not len(chunk):
            break
        counts = np.zeros((len(chunk), k))
        rows = np.arange(len(chunk))
        for g in range(n):
            counts[rows, chunk[:, g]] += weights[g]
        cost = np.abs(counts / total - targets).sum(axis=1)
        low = cost.min()
        if low < best_cost - _TIE:
            best_cost, best = low, []
        if low <= best_cost + _TIE:
            best.extend(chunk[cost <= best_cost + _TIE])
    return best[int(rng.integers(len(best)))]


def _greedy(weights: np.ndarray, targets: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    total = weights.sum()
    order = sorted(range(len(weights)), key=lambda g: (-weights[g], rng.random()))
    counts = np.zeros(len(targets))
    chosen = np.zeros(len(weights), np.int64)
    for g in order:
        deficit = targets * total - counts
        deficit[targets <= 0] = -np.inf
        best = np.flatnonzero(deficit >= deficit.max() - _TIE)
        split = int(best[int(rng.integers(len(best)))])
        chosen[g] = split
        counts[split] += weights[g]
    return chosen


def assign(groups_: list[Group], targets: dict[str, float], seed: int) -> Assignment:
    """The split of every group that brings the image shares closest to ``targets``."""
    names = list(targets)
    t = np.array([targets[n] for n in names], np.float64)
    w = np.array([g.images for g in groups_], np.float64)
    if not len(groups_) or w.sum() == 0:
        return _summary(names, t, w, np.zeros(len(groups_), np.int64), "none")
    rng = _rng(seed)
    if len(names) ** len(groups_) <= EXHAUSTIVE_MAX:
        return _summary(names, t, w, _exhaustive(w, t, rng), "exhaustive")
    return _summary(names, t, w, _greedy(w, t, rng), "greedy")
