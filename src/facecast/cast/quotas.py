"""Demographic quotas and the casting plan.

The steps, in the order the stage calls them:

1. :func:`gallery` gives every donor its category per attribute (through
   ``cast.bins``) and a status, and counts the usable donors of every joint
   cell, a combination of one category per quota attribute. A synthetic
   identity of a cell is made from donors of that cell, so a cell is
   *populatable* when it holds at least ``donors_per_identity`` of them.
2. :func:`joint_targets` turns the marginal quotas into joint target shares on
   the populatable cells by iterative proportional fitting (IPF), or takes the
   explicit ``cast.joint`` quotas. When the gallery cannot meet the quotas a
   linear programme finds the closest achievable shares (smallest largest gap);
   ``on_shortfall: error`` stops with a table of target vs possible, ``relax``
   goes on with the achievable shares and reports the gap.
3. :func:`identity_slots` turns the shares into whole identities per cell
   (largest remainder).
4. :func:`cast_tracks` gives every (clip, track, variant) one identity so that
   the share of output frames (or of identities) per cell meets its target,
   though tracks differ in length; an identity never plays a track of a donor
   it was made from, nor a track it or its donors look like.
5. :func:`share_report` gives target vs achieved share per category and the
   largest gap, for ``metrics/cast.json``.

Everything is deterministic: ties are broken by declared order or by draws
from ``numpy.random.default_rng`` seeded with the run's seed and the item's
own ids.
"""

from __future__ import annotations

import itertools
import logging
import zlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linprog
from scipy.spatial.distance import cdist

from facecast.errors import InputError
from facecast.params import SHARE_TOLERANCE, CastParams

OK = "ok"
NO_COMPATIBLE = "no_compatible_identity"
UNCASTABLE = "uncastable"
LP_TOLERANCE = 1e-9

log = logging.getLogger(__name__)


class ShortfallError(InputError):
    """The donor gallery cannot meet the quotas and ``cast.on_shortfall`` is ``error``."""


def cell_label(attributes: Sequence[str], cell: Sequence[str]) -> str:
    """``sex=female, skin_tone=I-III``; ``all`` for the one cell of a cast without quotas."""
    return ", ".join(f"{a}={c}" for a, c in zip(attributes, cell)) or "all"


# --------------------------------------------------------------------------- gallery


@dataclass(frozen=True)
class Gallery:
    """The donors' categories and the joint cells they populate."""

    attributes: tuple[str, ...]  # quota attributes: the axes of a cell
    categories: dict[str, tuple[str, ...]]  # quota categories per attribute, in params order
    donors: pd.DataFrame  # donor_id, a category column per quota or binned attribute, cell, status, reason
    cells: tuple[tuple[str, ...], ...]  # every joint cell, last attribute varying fastest
    donor_counts: np.ndarray  # usable donors per cell
    min_donors: int  # donors_per_identity

    @property
    def populatable(self) -> np.ndarray:
        return self.donor_counts >= self.min_donors

    def donors_of(self, cell: tuple[str, ...]) -> list[str]:
        usable = self.donors[self.donors["status"] == OK]
        return [d for d, c in zip(usable["donor_id"], usable["cell"]) if c == cell]

    def problems(self) -> list[str]:
        bad = self.donors[self.donors["status"] != OK]
        return [f"donor {d}: {r}" for d, r in zip(bad["donor_id"], bad["reason"])]


def _category(attribute: str, raw: object, params: CastParams) -> tuple[str | None, str | None, str | None]:
    """(category, None, None) or (None, status, reason) for one donor's declared value."""
    if raw is None or pd.isna(raw) or not str(raw).strip():
        return None, "missing_attribute", f"{attribute} is empty"
    value = str(raw).strip()
    if attribute in params.bins:
        if value not in params.bins[attribute]:
            return (None, "unbinned_value", f"{attribute} '{value}' is not in cast.bins.{attribute}")
        return params.bins[attribute][value], None, None
    if value not in params.quotas[attribute]:
        return (None, "unbinned_value", f"{attribute} '{value}' is not a category of cast.quotas.{attribute}")
    return value, None, None


def gallery(donors: pd.DataFrame, params: CastParams, unusable: Mapping[str, str] | None = None) -> Gallery:
    """Categorise the donors (``donors.csv``: donor_id and declared attributes) and count them per joint cell.

    ``unusable`` maps donor ids to why they have no usable face (:func:`facecast.cast.donors.unusable_donors`).
    A donor with an empty attribute, a value no bin covers, or no usable face gets
    a status other than ``ok`` and a reason naming the attribute; it populates no cell.
    """
    attributes = tuple(params.quotas)
    needed = list(dict.fromkeys([*attributes, *params.bins]))
    missing = [c for c in ["donor_id", *needed] if c not in donors.columns]
    if missing:
        raise InputError(f"donors.csv: no column {', '.join(missing)} (cast.quotas and cast.bins use them)")
    ids = donors["donor_id"].astype(str)
    duplicated = sorted(set(ids[ids.duplicated()]))
    if duplicated:
        raise InputError(f"donors.csv: donor_id {', '.join(duplicated)} listed more than once")
    unusable = dict(unusable or {})
    rows = []
    for donor_id, (_, donor) in zip(ids, donors.iterrows()):
        row: dict[str, object] = {"donor_id": donor_id}
        problems: list[tuple[str, str | None]] = []
        for attribute in needed:
            category, status, reason = _category(attribute, donor[attribute], params)
            row[attribute] = category
            if status:
                problems.append((status, reason))
        if donor_id in unusable:
            problems.append(("no_usable_face", unusable[donor_id]))
        row["cell"] = None if problems else tuple(row[a] for a in attributes)
        row["status"] = problems[0][0] if problems else OK
        row["reason"] = "; ".join(str(p) for _, p in problems) or None
        rows.append(row)
    table = pd.DataFrame(rows, columns=["donor_id", *needed, "cell", "status", "reason"])
    categories = {a: tuple(params.quotas[a]) for a in attributes}
    cells = tuple(itertools.product(*categories.values()))
    usable_cells = table.loc[table["status"] == OK, "cell"].tolist()
    counts = np.array([usable_cells.count(cell) for cell in cells], dtype=int)
    return Gallery(attributes, categories, table, cells, counts, params.donors_per_identity)


def check_gallery(g: Gallery) -> None:
    """Stop, naming every donor that cannot be used and why."""
    problems = g.problems()
    if problems:
        raise InputError("the donor gallery has donors that cannot be used:\n  " + "\n  ".join(problems))


# --------------------------------------------------------------------------- joint targets


@dataclass(frozen=True)
class Fit:
    """How iterative proportional fitting ended."""

    iterations: int
    converged: bool
    max_deviation: float  # largest |fitted margin - target margin|


def ipf(
    seed: np.ndarray, margins: Sequence[np.ndarray], tol: float = 1e-10, max_iter: int = 10_000
) -> tuple[np.ndarray, Fit]:
    """Scale ``seed`` (one axis per attribute) until its sums along every axis match ``margins``.

    Zero cells of the seed stay zero (structural zeros).
    """
    table = np.asarray(seed, dtype=float).copy()
    axes = range(table.ndim)
    deviation = np.inf
    for iteration in range(1, max_iter + 1):
        for axis, margin in zip(axes, margins):
            current = table.sum(axis=tuple(a for a in axes if a != axis))
            factor = np.divide(margin, current, out=np.zeros_like(current), where=current > 0)
            shape = [1] * table.ndim
            shape[axis] = -1
            table *= factor.reshape(shape)
        deviation = max(
            float(np.abs(table.sum(axis=tuple(a for a in axes if a != axis)) - margin).max())
            for axis, margin in zip(axes, margins)
        )
        if deviation <= tol:
            return table, Fit(iteration, True, deviation)
    return table, Fit(max_iter, False, deviation)


@dataclass(frozen=True)
class Targets:
    """Joint target shares per cell, and how they compare with what was asked."""

    attributes: tuple[str, ...]
    cells: tuple[tuple[str, ...], ...]
    shares: np.ndarray  # target share per cell; zero where the gallery cannot populate the cell
    report: pd.DataFrame  # quota, target, possible, gap: one row per category (or per cell for joint quotas)
    feasible: bool
    fit: Fit | None  # None for explicit joint quotas
    marginals: dict[str, dict[str, float]]  # cast.quotas as asked

    def table(self) -> str:
        lines = [f"{'quota':<32} {'target':>7} {'possible':>8} {'gap':>7}"]
        for row in self.report.itertuples():
            lines.append(f"{row.quota:<32} {row.target:>7.3f} {row.possible:>8.3f} {row.gap:>+7.3f}")
        return "\n".join(lines)


def _closest_achievable(groups: np.ndarray, wanted: np.ndarray, populatable: np.ndarray) -> np.ndarray:
    """Cell shares on the populatable cells whose group sums come closest to ``wanted``.

    First the largest gap is minimised, then, keeping it, the sum of the gaps.
    ``groups`` is (n_groups, n_cells) 0/1. Two linear programmes (HiGHS).
    """
    cols = np.flatnonzero(populatable)
    g = groups[:, cols]
    n, k = len(cols), len(wanted)
    # variables: x (n), u (k gaps), t (largest gap)
    a_ub = np.block(
        [
            [g, -np.eye(k), np.zeros((k, 1))],
            [-g, -np.eye(k), np.zeros((k, 1))],
            [np.zeros((k, n)), np.eye(k), -np.ones((k, 1))],
        ]
    )
    b_ub = np.concatenate([wanted, -wanted, np.zeros(k)])
    a_eq = np.concatenate([np.ones(n), np.zeros(k + 1)])[None]
    bounds = [(0, None)] * (n + k + 1)
    worst = linprog(np.r_[np.zeros(n + k), 1.0], a_ub, b_ub, a_eq, [1.0], bounds=bounds, method="highs")
    bounds[-1] = (0, worst.x[-1] + LP_TOLERANCE)
    total = linprog(np.r_[np.zeros(n), np.ones(k), 0.0], a_ub, b_ub, a_eq, [1.0], bounds=bounds, method="highs")
    x = np.zeros(groups.shape[1])
    x[cols] = np.clip(total.x[:n], 0.0, None)
    return x / x.sum()


def _forced_zero(groups: np.ndarray, sums: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Cells among ``candidates`` that are zero in every table with these group sums (IPF would only approach them)."""
    cols = np.flatnonzero(candidates)
    forced = np.zeros(len(candidates), dtype=bool)
    for i, col in enumerate(cols):
        c = np.zeros(len(cols))
        c[i] = -1.0
        best = linprog(c, A_eq=groups[:, cols], b_eq=sums, bounds=[(0, None)] * len(cols), method="highs")
        forced[col] = best.status != 0 or -best.fun <= LP_TOLERANCE
    return forced


def _shortfall_message(g: Gallery, targets: Targets) -> str:
    populatable = [
        f"{cell_label(g.attributes, c)} ({n})" for c, n, ok in zip(g.cells, g.donor_counts, g.populatable) if ok
    ]
    short = [
        f"{cell_label(g.attributes, c)} ({n}{': ' + ', '.join(g.donors_of(c)) if n else ''})"
        for c, n, ok in zip(g.cells, g.donor_counts, g.populatable)
        if not ok
    ]
    return (
        f"the donor gallery cannot meet the quotas with {g.min_donors} donors per identity "
        "(cast.on_shortfall: error; 'relax' goes on with the possible shares):\n"
        f"{targets.table()}\n"
        f"cells with at least {g.min_donors} usable donors: {'; '.join(populatable) or 'none'}\n"
        f"cells with fewer: {'; '.join(short) or 'none'}"
    )


def joint_targets(g: Gallery, params: CastParams) -> Targets:
    """Joint target shares per cell: IPF of ``cast.quotas`` over the populatable cells, or ``cast.joint``.

    IPF starts from 1 on every populatable cell and 0 elsewhere. When the
    quotas cannot be met there, the shares are fitted to the closest
    achievable marginals instead; ``on_shortfall: error`` raises
    :class:`ShortfallError` with the table of target vs possible.
    """
    populatable = g.populatable
    marginals = {a: dict(v) for a, v in params.quotas.items()}
    if not populatable.any():
        raise InputError(
            f"no quota cell has {g.min_donors} usable donors (cast.donors_per_identity); usable donors per cell: "
            + "; ".join(f"{cell_label(g.attributes, c)} {n}" for c, n in zip(g.cells, g.donor_counts))
        )
    if not g.attributes:  # no quotas: one cell holding every usable donor
        report = pd.DataFrame(columns=["quota", "target", "possible", "gap"])
        return Targets((), g.cells, np.ones(1), report, True, None, marginals)
    if params.joint is not None:
        wanted_cells = {tuple(e[a] for a in g.attributes): float(e["share"]) for e in params.joint}
        wanted = np.array([wanted_cells.get(c, 0.0) for c in g.cells])
        groups = np.eye(len(g.cells))
        labels = [cell_label(g.attributes, c) for c in g.cells]
    else:
        pairs = [(a, c) for a in g.attributes for c in g.categories[a]]
        wanted = np.array([params.quotas[a][c] for a, c in pairs])
        groups = np.array([[cell[g.attributes.index(a)] == c for cell in g.cells] for a, c in pairs], dtype=float)
        labels = [f"{a}={c}" for a, c in pairs]
    x = _closest_achievable(groups, wanted, populatable)
    possible = groups @ x
    feasible = bool(np.abs(possible - wanted).max() <= SHARE_TOLERANCE)
    if feasible:
        possible = wanted
    fit = None
    if params.joint is not None:
        shares = wanted if feasible else x
    else:
        seed = populatable & ~_forced_zero(groups, possible, populatable)
        margins = []
        for a in g.attributes:
            m = np.array([possible[pairs.index((a, c))] for c in g.categories[a]])
            margins.append(m / m.sum())
        shape = [len(g.categories[a]) for a in g.attributes]
        table, fit = ipf(seed.reshape(shape).astype(float), margins)
        shares = table.ravel()
        shares = np.where(shares > 1e-12, shares, 0.0)
        shares = shares / shares.sum()
    report = pd.DataFrame({"quota": labels, "target": wanted, "possible": possible, "gap": possible - wanted})
    targets = Targets(g.attributes, g.cells, shares, report, feasible, fit, marginals)
    if not feasible and params.on_shortfall == "error":
        raise ShortfallError(_shortfall_message(g, targets))
    return targets


# --------------------------------------------------------------------------- whole identities


def largest_remainder(shares: np.ndarray, total: int, at_least_one: bool = False) -> np.ndarray:
    """Whole numbers summing to ``total`` in proportion to ``shares`` (Hamilton's method).

    Each cell gets the floor of its quota, the seats left go to the largest
    remainders; ties go to the earlier cell. ``at_least_one`` first gives every
    cell with a positive share one seat, when there are enough seats for that.
    """
    shares = np.asarray(shares, dtype=float)
    quota = np.round(shares / shares.sum() * total, 9)
    seats = np.floor(quota).astype(int)
    floor = np.zeros_like(seats)
    if at_least_one and np.count_nonzero(shares) <= total:
        floor = (shares > 0).astype(int)
        seats = np.maximum(seats, floor)
    left = total - int(seats.sum())
    if left > 0:
        order = sorted(range(len(seats)), key=lambda i: (-(quota[i] - seats[i]), i))
        for i in order[:left]:
            seats[i] += 1
    elif left < 0:
        order = sorted((i for i in range(len(seats)) if seats[i] > floor[i]), key=lambda i: (-(seats[i] - quota[i]), i))
        for i in order[:-left]:
            seats[i] -= 1
    return seats


def identity_slots(targets: Targets, params: CastParams) -> pd.DataFrame:
    """The identities to synthesise: identity_id and its category per quota attribute, cell by cell.

    With ``balance_by: frames`` every cell with a positive share gets at least
    one identity when there are enough, since it needs one to receive frames.
    """
    counts = largest_remainder(targets.shares, params.identities, at_least_one=params.balance_by != "identities")
    width = max(3, len(str(params.identities)))
    cells = [cell for cell, n in zip(targets.cells, counts) for _ in range(n)]
    rows = [
        {"identity_id": f"syn{i:0{width}d}", **dict(zip(targets.attributes, cell))} for i, cell in enumerate(cells, 1)
    ]
    return pd.DataFrame(rows, columns=["identity_id", *targets.attributes])


# --------------------------------------------------------------------------- casting


def excluded_tracks(
    tracks: pd.DataFrame, identities: pd.DataFrame, donor_centroids: Mapping[str, np.ndarray], max_distance: float
) -> dict[str, set[tuple[str, int]]]:
    """Per identity, the tracks it must not play because it or one of its donors looks like the track's person.

    ``tracks`` needs clip_id, track_id, embedding_centroid (may be null: such a
    track is only protected by its subject id); ``identities`` needs
    identity_id, donors (donor ids) and embedding. A distance below
    ``max_distance`` (cast.min_track_distance) excludes.
    """
    out: dict[str, set[tuple[str, int]]] = {i: set() for i in identities["identity_id"]}
    known = tracks[tracks["embedding_centroid"].notna()]
    if known.empty:
        return out
    keys = list(zip(known["clip_id"], known["track_id"].astype(int)))
    centroids = np.stack(known["embedding_centroid"].to_numpy()).astype(float)
    for identity_id, donors, embedding in zip(identities["identity_id"], identities["donors"], identities["embedding"]):
        faces = [np.asarray(donor_centroids[d], float) for d in donors if d in donor_centroids]
        if embedding is not None:
            faces.append(np.asarray(embedding, float))
        if not faces:
            continue
        close = (cdist(np.stack(faces), centroids) < max_distance).any(axis=0)
        out[identity_id] = {k for k, c in zip(keys, close) if c}
    return out


def _draws(seed: int, n: int, *ids: object) -> np.ndarray:
    """``n`` uniform draws that depend only on the seed and these ids."""
    entropy = [seed] + [zlib.crc32(str(i).encode()) for i in ids]
    return np.random.default_rng(entropy).random(n)


def _balance_cells(
    w: np.ndarray,
    u: np.ndarray,
    track: np.ndarray,
    allowed: np.ndarray,
    share: np.ndarray,
    cost: np.ndarray | None = None,
) -> np.ndarray:
    """A cell for every item so that each cell's frames come close to ``share`` of all frames.

    ``w``: frames per item, ``u``: its own uniform draw, ``track``: its track row,
    ``allowed[t, c]``: identities of cell c that may play track t (a track's
    items in one cell need as many distinct identities), ``cost[t, c]``: how
    far the best identity of cell c is from track t's presentation
    (:mod:`facecast.cast.fit`; None: no preference).

    Each item first takes the cell closest to its track's presentation, and
    among equally close cells (all of them without a preference) the one its
    own draw picks with the target shares as odds, which depends on nothing
    else; then single items move, one at a time, while a move lowers
    sum_c (frames_c - target_c)^2: between the two cells furthest apart, the
    item whose presentation the move costs least, then the one with the
    smallest draw. This changes few items, and the same ones when another
    track changes a little, so one changed track recasts few others; the
    quotas come first, the presentation decides which items cross. Where no
    move brings the cells closer, an item still moves when that leaves them
    exactly as close and puts it in a cell closer to its track (two cells
    half an item off their targets either way: the item that fits goes). It
    ends where no single move helps (every move lowers the squared deficit,
    or keeps it and lowers the cost, so nothing cycles), so no cell is off its
    target by more than the longest item when every move is allowed (a cell
    further below has a cell above it from which some item could move).
    """
    n, m = len(w), len(share)
    cost = np.zeros((allowed.shape[0], m)) if cost is None else np.asarray(cost, float)
    used = np.zeros_like(allowed)
    cell = np.zeros(n, dtype=int)
    for i in np.argsort(u, kind="stable"):
        free = allowed[track[i]] > used[track[i]]
        closest = free & (cost[track[i]] <= cost[track[i]][free].min() + LP_TOLERANCE) if free.any() else free
        odds = np.where(closest, share, 0.0) if (share * closest).sum() > 0 else closest.astype(float)
        c = int(np.searchsorted(np.cumsum(odds) / odds.sum(), u[i], side="right"))
        cell[i] = next(k for k in [*range(min(c, m - 1), m), *range(m)] if closest[k])
        used[track[i], cell[i]] += 1
    deviation = np.bincount(cell, weights=w, minlength=m) - share * w.sum()
    eps = LP_TOLERANCE * max(1.0, float(w.sum()))
    rows = np.arange(n)
    while True:
        free = allowed[track] > used[track]
        free[rows, cell] = False
        here = deviation[cell]
        gain = (deviation + w[:, None]) ** 2 - deviation**2 + ((here - w) ** 2 - here**2)[:, None]
        gain = np.where(free, gain, np.inf)
        to = gain.argmin(axis=1)
        better = np.flatnonzero(gain[rows, to] < -eps)
        if len(better):
            apart = here[better] - deviation[to[better]]
            widest = better[apart >= apart.max() - eps]
            worse = cost[track[widest], to[widest]] - cost[track[widest], cell[widest]]
            i = widest[np.lexsort((u[widest], worse))[0]]
        else:  # no move brings the cells closer: one that keeps them as close and fits its track better
            closer = cost[track] - cost[track, cell][:, None]
            even = free & (np.abs(gain) <= eps) & (closer < -LP_TOLERANCE)
            if not even.any():
                return cell
            rows_even, to_even = np.nonzero(even)
            best = np.lexsort((u[rows_even], closer[rows_even, to_even]))[0]
            i = int(rows_even[best])
            to[i] = to_even[best]
        used[track[i], cell[i]] -= 1
        used[track[i], to[i]] += 1
        deviation[cell[i]] -= w[i]
        deviation[to[i]] += w[i]
        cell[i] = to[i]


def cast_tracks(
    tracks: pd.DataFrame,
    identities: pd.DataFrame,
    targets: Targets,
    *,
    variants: int,
    balance_by: str,
    seed: int,
    excluded: Mapping[str, Collection[tuple[str, int]]] | None = None,
    compatible: np.ndarray | None = None,
    incompatible: Sequence[str | None] | None = None,
    cost: np.ndarray | None = None,
) -> pd.DataFrame:
    """Give every (clip, track, variant) one identity, balancing the output over the quota cells.

    ``tracks``: clip_id, track_id, n_frames, subject_id (null when unknown).
    ``identities``: identity_id, donors (donor ids it is made from), one column
    per quota attribute (its cell), as :func:`identity_slots` gives plus donors.
    ``excluded``: per identity, (clip_id, track_id) it must not play (:func:`excluded_tracks`).

    An identity never plays a track whose subject is one of its donors; the
    variants of one track get different identities. Cell targets are
    ``targets.shares`` of the output frames (``balance_by: frames``) or each
    cell's share of the identities (``identities``); see :func:`_balance_cells`.
    Within a cell, each item takes the allowed identity closest to its track
    (``cost``; ties by rendezvous hashing on the item's ids) among those that
    still have room for an even share of the cell's frames (see below). A
    track no identity may play (every
    identity is made from its subject or looks like its person) gets a row with
    status ``uncastable`` and the reason, whatever ``on_shortfall`` says: swap
    obscures it, and the quotas (which ``on_shortfall`` is about) are met over
    the tracks that can be cast. Casting a look-alike would leave the person
    recognisable; stopping the whole run for one face would publish nothing.

    ``compatible[t, j]``: identity j may play track t under ``cast.match``
    (:func:`facecast.cast.fit.compatible`; None: all may); a track with no
    compatible identity gets rows with status ``no_compatible_identity`` and
    ``incompatible[t]`` as the reason, and is obscured by swap rather than
    given a face that contradicts the person. ``cost[t, j]``: the
    presentation distance (:func:`facecast.cast.fit.distances`): which items
    cross between quota cells when the quotas need some to, and, within a
    cell, which identity an item takes among those with room. Room is
    counted in frames: an identity has room while its frames stay below its
    even share of the cell's frames minus half the item, so long and short
    tracks spread evenly; items are placed longest first, and among equally
    long ones, first those that lose most if their closest identity is
    taken (an older person among younger ones gets the oldest identity).

    Returns clip_id, track_id, variant, identity_id, frames, status, reason.
    """
    excluded = excluded or {}
    cell_index = {c: i for i, c in enumerate(targets.cells)}
    id_cells = [tuple(r) for r in identities[list(targets.attributes)].itertuples(index=False)]
    strangers = [i for i, c in zip(identities["identity_id"], id_cells) if c not in cell_index]
    if strangers:
        raise ValueError(f"identities {', '.join(strangers)} belong to no quota cell of the targets")
    id_cell = np.array([cell_index[c] for c in id_cells], dtype=int)
    m = len(targets.cells)
    if balance_by in ("frames", "published"):  # published: planned over frames, then balanced by manifest
        share = np.asarray(targets.shares, float)
    else:
        share = np.bincount(id_cell, minlength=m) / len(id_cell)
    keys = list(zip(tracks["clip_id"].astype(str), tracks["track_id"].astype(int)))
    subjects = [None if pd.isna(s) else str(s) for s in tracks["subject_id"]]
    donor_sets = [set(map(str, d)) for d in identities["donors"]]
    banned = [set(excluded.get(i, ())) for i in identities["identity_id"]]
    # may[t, j]: identity j may play track t
    may = np.array(
        [[s not in d and k not in b for d, b in zip(donor_sets, banned)] for k, s in zip(keys, subjects)], dtype=bool
    )
    may = may.reshape(len(keys), len(id_cell))
    fits = np.ones_like(may) if compatible is None else np.asarray(compatible, bool).reshape(may.shape)
    may &= fits
    cost = np.zeros(may.shape) if cost is None else np.asarray(cost, float).reshape(may.shape)
    allowed = np.stack([may[:, id_cell == c].sum(axis=1) for c in range(m)], axis=1).reshape(len(keys), m)
    cell_cost = np.stack(
        [np.where(may[:, id_cell == c], cost[:, id_cell == c], np.inf).min(axis=1, initial=np.inf) for c in range(m)],
        axis=1,
    ).reshape(len(keys), m)
    cell_cost = np.where(np.isfinite(cell_cost), cell_cost, 0.0)
    n_frames = tracks["n_frames"].to_numpy(int)
    items = [(t, v) for t in range(len(keys)) for v in range(min(variants, int(may[t].sum())))]
    track = np.array([t for t, _ in items], dtype=int)
    w = n_frames[track].astype(float)
    u = np.array([_draws(seed, 1, *keys[t], v)[0] for t, v in items])
    cell = _balance_cells(w, u, track, allowed, share, cell_cost)

    load = np.zeros(len(id_cell))  # frames given to each identity
    even = np.bincount(cell, weights=w, minlength=m) / np.maximum(np.bincount(id_cell, minlength=m), 1)
    taken: dict[int, set[int]] = {}
    rows = []
    regret = np.zeros(len(items))  # what an item loses if its closest identity of its cell is taken
    for i, ((t, _), c) in enumerate(zip(items, cell)):
        options = np.sort(cost[t, (id_cell == c) & may[t]])
        regret[i] = options[1] - options[0] if len(options) > 1 else 0.0
    for i in np.lexsort((u, -regret, -w)):  # longest first, then the most particular, then by draw
        (t, v), c = items[i], cell[i]
        mine = taken.setdefault(t, set())
        rank = _draws(seed, len(id_cell), *keys[t], v)
        candidates = sorted(
            (j for j in np.flatnonzero((id_cell == c) & may[t]) if j not in mine), key=lambda j: (cost[t, j], -rank[j])
        )
        room = [j for j in candidates if load[j] + w[i] / 2 <= even[c] + LP_TOLERANCE]
        j = room[0] if room else min(candidates, key=lambda j: (load[j], cost[t, j], -rank[j]))
        mine.add(int(j))
        load[j] += w[i]
        rows.append((*keys[t], v, identities["identity_id"].iloc[j], int(n_frames[t]), OK, None))
    short = []
    for t, key in enumerate(keys):
        if len(id_cell) and not fits[t].any():  # identities were made, none fits the person
            reason = (incompatible[t] if incompatible is not None else None) or "no identity is compatible"
            rows.extend((*key, v, None, int(n_frames[t]), NO_COMPATIBLE, reason) for v in range(variants))
            continue
        for v in range(int(may[t].sum()), variants):
            reason = (
                f"only {int(may[t].sum())} of {len(id_cell)} identities may play this track "
                f"(the others are made from its subject {subjects[t]}, look like its person, or do not fit it "
                "under cast.match), "
                f"{variants} variants needed"
            )
            short.append(f"clip {key[0]} track {key[1]} variant {v}: {reason}")
            rows.append((*key, v, None, int(n_frames[t]), UNCASTABLE, reason))
    if short:
        log.warning(
            "%d track variants no synthetic identity may play: recorded uncastable, swap obscures them:\n  %s",
            len(short),
            "\n  ".join(short),
        )
    out = pd.DataFrame(rows, columns=["clip_id", "track_id", "variant", "identity_id", "frames", "status", "reason"])
    return out.sort_values(["clip_id", "track_id", "variant"], ignore_index=True)


# --------------------------------------------------------------------------- report


def share_report(casting: pd.DataFrame, identities: pd.DataFrame, targets: Targets, balance_by: str) -> dict:
    """Target vs achieved share per category and per cell, and the largest gap (``metrics/cast.json``).

    ``shares`` repeats the per-category target and achieved share as
    ``{attribute: {category: {target, achieved}}}`` for ``dvc metrics diff``.

    ``achieved`` is the share of output frames (``balance_by: frames``, and
    ``published``, whose plan is over frames: manifest balances what is
    published) or of identities; both are given as ``frame_share`` and
    ``identity_share``. The
    target is the quota as asked, so a relaxed shortfall shows as a gap.
    """
    done = casting[casting["status"] == OK].merge(identities, on="identity_id", how="left")
    attrs = list(targets.attributes)
    total = float(done["frames"].sum())

    def row(select, target: float, **names: str) -> dict:
        frame_share = float(done.loc[select(done), "frames"].sum()) / total if total else 0.0
        identity_share = float(select(identities).mean()) if len(identities) else 0.0
        achieved = identity_share if balance_by == "identities" else frame_share
        return {
            **names,
            "target": float(target),
            "frame_share": frame_share,
            "identity_share": identity_share,
            "achieved": achieved,
            "gap": achieved - float(target),
        }

    categories = [
        row(lambda d, a=a, c=c: d[a] == c, share, attribute=a, category=c)
        for a in attrs
        for c, share in targets.marginals[a].items()
    ]
    cells = [
        row(lambda d, cell=cell: (d[attrs] == list(cell)).all(axis=1), share, cell=cell_label(attrs, cell))
        for cell, share in zip(targets.cells, targets.shares)
    ]
    worst = max(categories or cells, key=lambda r: abs(r["gap"]))
    # the same shares as a mapping, which `dvc metrics diff` and `dvc exp show` can compare (they skip lists)
    shares: dict[str, dict[str, dict[str, float]]] = {}
    for r in categories:
        shares.setdefault(r["attribute"], {})[r["category"]] = {"target": r["target"], "achieved": r["achieved"]}
    return {
        "balance_by": balance_by,
        "quotas_feasible": targets.feasible,
        "output_frames": int(total),
        "identities": int(len(identities)),
        "uncastable": int((casting["status"] == UNCASTABLE).sum()),
        "no_compatible_identity": int((casting["status"] == NO_COMPATIBLE).sum()),
        "categories": categories,
        "cells": cells,
        "largest_gap": {k: worst[k] for k in ("attribute", "category", "cell", "gap") if k in worst},
        "shares": shares,
    }
