"""Quotas over what is published (``cast.balance_by: published``).

Casting meets the quotas over the frames it plans; the gate then rejects
some, and not evenly: one identity's frames may pass at 99 %, another's at
80 %, and the published shares drift from the targets the user declared.
Here the passing images are thinned so that every quota cell's share of the
published appearances of cast identities comes within
``manifest.quota_tolerance`` of its target, keeping as many images as that
allows:

* **Cells.** An appearance is one cast identity in one image; its cell is the
  identity's declared category on every quota attribute (the joint cells of
  ``metrics/cast.json``, whose targets are the quotas as cast made them
  joint). Cells no published image reaches are left out and the others'
  targets renormalised over them: their gap cannot be closed by publishing
  less, and the card names it with its cause.
* **How many.** With ``a_c`` appearances of cell ``c`` and targets ``t_c``,
  the largest total ``A`` with ``sum_c min(a_c, (t_c + tol) A) = A`` (found by
  bisection) gives each cell ``min(a_c, (t_c + tol) A)`` appearances: the
  over-represented cells are cut to ``tol`` above their target, the others
  keep everything.
* **Which.** Only images whose appearances all lie in one cell are thinned (an
  image with two people of different cells is kept). Within a cell the
  images are taken in order (clip, variant, frame, copy) and every image
  whose running quota crosses a whole number is kept, so the thinning is
  spread evenly over each track and its labels, not taken from its end.

Every image not published for this is a ``dataset_rejects`` row with kind
``quota_balance`` and the shares that made it so.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from facecast.reasons import ManifestReason
from facecast.tables import Reason

ALL_CELL = "all"  # the one cell of a cast without quotas


@dataclass(frozen=True)
class Balance:
    """What balancing did: appearances per cell before and after, the targets, and the images it left out."""

    targets: dict[str, float]  # cell label -> target share (metrics/cast.json cells)
    before: dict[str, int]  # cell -> appearances among the passing images
    after: dict[str, int]  # cell -> appearances among the published images
    dropped: int  # images left out
    unreached: list[str]  # cells with a target and no passing image


def quota_targets(cast_metrics: dict) -> dict[str, float]:
    """Cell label -> target share: ``metrics/cast.json``'s joint cells, or, in a file without them, its categories
    when there is a single quota attribute (each category is then a cell)."""
    if cast_metrics.get("cells"):
        return {c["cell"]: float(c["target"]) for c in cast_metrics["cells"]}
    attributes = {c["attribute"] for c in cast_metrics["categories"]}
    if len(attributes) != 1:
        return {}
    return {f"{c['attribute']}={c['category']}": float(c["target"]) for c in cast_metrics["categories"]}


def parse_cell(label: str) -> dict[str, str]:
    """``sex=female, skin_tone=I-III`` -> {sex: female, skin_tone: I-III}; ``all`` -> {}."""
    if label == ALL_CELL:
        return {}
    out = {}
    for part in label.split(", "):
        attribute, _, category = part.partition("=")
        out[attribute] = category
    return out


def cell_of(declared: dict[str, str], cells: dict[str, dict[str, str]]) -> str | None:
    """The label of the cell whose categories ``declared`` has on every quota attribute (None: no such cell)."""
    for label, categories in cells.items():
        if all(declared.get(a) == c for a, c in categories.items()):
            return label
    return None


def _total(counts: np.ndarray, targets: np.ndarray, tolerance: float) -> float:
    """The largest A with sum_c min(a_c, (t_c + tol) A) = A (bisection; the left side grows slower than A)."""
    low, high = 0.0, float(counts.sum())
    caps = targets + tolerance
    for _ in range(100):
        mid = (low + high) / 2
        if np.minimum(counts, caps * mid).sum() >= mid:
            low = mid
        else:
            high = mid
    return low


def _appearances(identity_ids, identity_cells: dict[str, str | None]) -> Counter[str]:
    """Cell -> appearances of cast identities (of a cell) in these images' identity lists."""
    return Counter(c for ids in identity_ids for i in ids if (c := identity_cells.get(i)) is not None)


def _even(n: int, keep: int) -> np.ndarray:
    """Bool (n,): ``keep`` of ``n`` items, evenly spread (item i kept when its running quota crosses an integer)."""
    if keep >= n:
        return np.ones(n, bool)
    share = keep / n
    i = np.arange(n)
    return np.floor((i + 1) * share + 1e-9) > np.floor(i * share + 1e-9)


def balance(
    published: pd.DataFrame, identity_cells: dict[str, str | None], targets: dict[str, float], tolerance: float
) -> tuple[pd.DataFrame, list[dict], Balance]:
    """The published images thinned to the targets, the ``dataset_rejects`` rows of those left out, and what
    was done. ``published``: the candidates (``identity_ids`` per image, in CANDIDATE order); ``identity_cells``:
    identity -> its cell label; ``targets``: cell label -> target share."""
    cells_per_image = [
        sorted({c for i in ids if (c := identity_cells.get(i)) is not None}) for ids in published["identity_ids"]
    ]
    before = _appearances(published["identity_ids"], identity_cells)
    reached = [c for c, t in targets.items() if t > 0 and before.get(c, 0) > 0]
    unreached = sorted(c for c, t in targets.items() if t > 0 and before.get(c, 0) == 0)
    keep = np.ones(len(published), bool)
    if len(reached) >= 2:
        counts = np.array([before[c] for c in reached], float)
        shares = np.array([targets[c] for c in reached], float)
        shares = shares / shares.sum()
        total = _total(counts, shares, tolerance)
        wanted = {c: int(np.floor(min(a, (t + tolerance) * total) + 1e-9)) for c, a, t in zip(reached, counts, shares)}
        for c in reached:
            excess = before[c] - wanted[c]
            if excess <= 0:
                continue
            only = np.flatnonzero([cells == [c] for cells in cells_per_image])
            if not len(only):
                continue
            per_image = np.array([len(published["identity_ids"].iloc[k]) for k in only])
            # appearances to remove from this cell's single-cell images, at most all of them
            removable = int(per_image.sum())
            remove = min(excess, removable)
            kept = _even(len(only), len(only) - int(np.ceil(remove / max(per_image.mean(), 1.0))))
            keep[only[~kept]] = False
    after = _appearances(published.loc[keep, "identity_ids"], identity_cells)
    result = Balance(
        targets=dict(targets),
        before={c: int(n) for c, n in sorted(before.items())},
        after={c: int(n) for c, n in sorted(after.items())},
        dropped=int((~keep).sum()),
        unreached=unreached,
    )
    reason = _reason(result, tolerance)  # the same for every image left out
    rejects = [_reject(r, reason) for r in published.loc[~keep].itertuples(index=False)]
    return published.loc[keep].reset_index(drop=True), rejects, result


def _share_text(counts: dict[str, int], cell: str) -> str:
    total = sum(counts.values())
    return f"{100 * counts.get(cell, 0) / total:.1f} %" if total else "n/a"


def _reason(result: Balance, tolerance: float) -> Reason:
    over = [c for c in result.before if result.targets.get(c, 0) > 0]
    detail = "; ".join(
        f"{c}: {_share_text(result.before, c)} of the passing appearances, target {100 * result.targets[c]:.1f} %"
        for c in over
    )
    return Reason(
        ManifestReason.QUOTA_BALANCE,
        f"left out so the published shares meet the quotas within manifest.quota_tolerance {tolerance:g} ({detail})",
    )


def _reject(row, reason: Reason) -> dict:
    return {
        "clip_id": row.clip_id,
        "variant": int(row.variant),
        "copy": int(row.copy),
        "frame_idx": int(row.frame_idx),
        "stage": "manifest",
        "reason_kinds": [reason.kind],
        "reason_details": [reason.detail],
    }
