"""Subject-grouped splits, stratified by demographics: nobody's footage, and no cast identity, in two splits.

Two subjects are tied when the same synthetic identity plays in published
images of both (a face model could otherwise learn the identity in train and
recognise it in test). The connected groups of subjects and identities
(union-find over the (subject, identity) pairs of the published images) are
each assigned whole to one split. Among all assignments, the one with the
smallest cost is chosen: the summed gap between each split's share of the
published images and its target, plus, when quota targets are given, each
split's largest gap between a quota category's share of its appearances of
cast identities and that category's target (so a split of one sex is as bad
as a split of the wrong size). Every assignment is tried when there are few
groups; else the groups are placed greedily, largest first, each to the split
furthest below its target, and single groups are then moved or swapped while
that lowers the cost. Ties are broken by a generator seeded from ``seed``.
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
    categories: tuple[tuple[str, int], ...] = ()  # (quota category key, appearances of cast identities in it)


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


def groups(images: list[tuple[str, list[str]]], categories: dict[str, list[str]] | None = None) -> list[Group]:
    """The connected groups of ``images``, each given as (subject key, identity ids in the image).

    ``categories``: identity -> its quota category keys (``sex=female``, one per quota attribute); each group
    counts its appearances per key. Groups are returned in a canonical order (by their first subject), so the
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
    keyed: dict[tuple[str, str], dict[str, int]] = {}
    for subject, identities in images:
        root = uf.find(("s", subject))
        counts[root] = counts.get(root, 0) + 1
        tally = keyed.setdefault(root, {})
        for identity in identities:
            for key in (categories or {}).get(identity, ()):
                tally[key] = tally.get(key, 0) + 1
    out = [
        Group(tuple(sorted(s)), tuple(sorted(i)), counts.get(root, 0), tuple(sorted(keyed.get(root, {}).items())))
        for root, (s, i) in members.items()
    ]
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


@dataclass(frozen=True)
class _Strata:
    """Per group its appearances per quota category (groups, categories), each category's attribute index and
    target share."""

    counts: np.ndarray
    attribute: np.ndarray
    targets: np.ndarray

    @classmethod
    def of(cls, groups_: list[Group], quota: dict[str, float] | None) -> _Strata | None:
        keys = sorted(quota or {})
        if not keys:
            return None
        table = [dict(g.categories) for g in groups_]
        counts = np.array([[t.get(k, 0) for k in keys] for t in table], np.float64).reshape(len(groups_), len(keys))
        attributes = sorted({k.partition("=")[0] for k in keys})
        attribute = np.array([attributes.index(k.partition("=")[0]) for k in keys])
        return cls(counts, attribute, np.array([quota[k] for k in keys] if quota else [], np.float64))

    def gaps(self, chosen: np.ndarray, k: int) -> np.ndarray:
        """(assignments, splits): each split's largest |category share - target| (1 for a split with none)."""
        per = np.zeros((len(chosen), k, self.counts.shape[1]))
        rows = np.arange(len(chosen))
        for g in range(self.counts.shape[0]):
            per[rows, chosen[:, g]] += self.counts[g]
        shares = np.zeros_like(per)
        for a in np.unique(self.attribute):
            cols = self.attribute == a
            total = per[:, :, cols].sum(axis=2, keepdims=True)
            shares[:, :, cols] = np.where(total > 0, per[:, :, cols] / np.maximum(total, 1e-12), np.nan)
        gap = np.abs(shares - self.targets)
        return np.where(np.isnan(gap).all(axis=2), 1.0, np.nanmax(np.nan_to_num(gap, nan=0.0), axis=2))


def _costs(chosen: np.ndarray, weights: np.ndarray, targets: np.ndarray, strata: _Strata | None) -> np.ndarray:
    """The cost of each assignment (rows of ``chosen``: a split per group)."""
    k = len(targets)
    counts = np.zeros((len(chosen), k))
    rows = np.arange(len(chosen))
    for g in range(chosen.shape[1]):
        counts[rows, chosen[:, g]] += weights[g]
    cost = np.abs(counts / weights.sum() - targets).sum(axis=1)
    if strata is not None:
        used = targets > 0
        cost = cost + strata.gaps(chosen, k)[:, used].sum(axis=1)
    return cost


def _exhaustive(
    weights: np.ndarray, targets: np.ndarray, rng: np.random.Generator, strata: _Strata | None
) -> np.ndarray:
    k, n = len(targets), len(weights)
    best_cost = np.inf
    best: list[np.ndarray] = []
    batch = 4096
    product = itertools.product(range(k), repeat=n)
    while True:
        chunk = np.array(list(itertools.islice(product, batch)), np.int64).reshape(-1, n)
        if not len(chunk):
            break
        cost = _costs(chunk, weights, targets, strata)
        low = cost.min()
        if low < best_cost - _TIE:
            best_cost, best = low, []
        if low <= best_cost + _TIE:
            best.extend(chunk[cost <= best_cost + _TIE])
    return best[int(rng.integers(len(best)))]


def _improve(chosen: np.ndarray, weights: np.ndarray, targets: np.ndarray, strata: _Strata | None) -> np.ndarray:
    """Move or swap single groups while that lowers the cost (every move and swap tried, the best taken)."""
    k, n = len(targets), len(chosen)
    current = _costs(chosen[None], weights, targets, strata)[0]
    for _ in range(10 * n):
        moves = [chosen.copy() for _ in range(n * k)]
        for g in range(n):
            for split in range(k):
                moves[g * k + split][g] = split
        swaps = []
        for a, b in itertools.combinations(range(n), 2):
            if chosen[a] != chosen[b]:
                swapped = chosen.copy()
                swapped[a], swapped[b] = chosen[b], chosen[a]
                swaps.append(swapped)
        options = np.array(moves + swaps, np.int64)
        cost = _costs(options, weights, targets, strata)
        best = int(np.argmin(cost))
        if cost[best] >= current - _TIE:
            break
        chosen, current = options[best], float(cost[best])
    return chosen


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


IMPROVE_MAX = 400  # groups beyond which the greedy assignment is not improved move by move


def assign(
    groups_: list[Group], targets: dict[str, float], seed: int, quota: dict[str, float] | None = None
) -> Assignment:
    """The split of every group that brings the image shares closest to ``targets`` and, with ``quota``
    (category key ``attribute=category`` -> target share), each split's demographics closest to the quotas."""
    names = list(targets)
    t = np.array([targets[n] for n in names], np.float64)
    w = np.array([g.images for g in groups_], np.float64)
    if not len(groups_) or w.sum() == 0:
        return _summary(names, t, w, np.zeros(len(groups_), np.int64), "none")
    rng = _rng(seed)
    strata = _Strata.of(groups_, quota)
    if len(names) ** len(groups_) <= EXHAUSTIVE_MAX:
        return _summary(names, t, w, _exhaustive(w, t, rng, strata), "exhaustive")
    chosen = _greedy(w, t, rng)
    if strata is not None and len(groups_) <= IMPROVE_MAX:
        return _summary(names, t, w, _improve(chosen, w, t, strata), "greedy, improved")
    return _summary(names, t, w, chosen, "greedy")
