"""What the report shows: the frames on each contact sheet, the sample of rejects, the demographic shares.

Everything here is deterministic: evenly spaced picks over sorted rows, no
random draw, so the same inputs give the same page.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from facecast.errors import InputError

NO_REASON = "(no reason recorded)"
UNDECLARED = "(undeclared)"
NOT_MEASURED = "(not measured)"


@dataclass(frozen=True)
class SheetRow:
    clip_id: str
    variant: int
    frame_idx: int
    timestamp_s: float
    label: str | None
    identity_ids: tuple[str, ...]
    copies: int  # published images of this frame: the frame itself and its augmented copies
    deid_distance_min: float | None
    landmark_error_max: float | None


@dataclass(frozen=True)
class ShareRow:
    attribute: str
    category: str
    target: float | None
    cast: float | None  # what cast planned, counted as metrics/cast.json's balance_by says
    published: float | None  # share of the faces in published images, by their identity's declared category
    measured: float | None  # the same, by the category measured on the identity's face


def evenly_spaced(count: int, n: int) -> list[int]:
    """``n`` positions spread evenly over ``count`` items, first and last included (all of them when fewer)."""
    if count <= n:
        return list(range(count))
    return sorted({int(round(x)) for x in np.linspace(0, count - 1, n)})


def _number(value) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def sheet_rows(frames: pd.DataFrame, clip_id: str, n: int) -> list[SheetRow]:
    """``n`` evenly spaced published frames of the clip, one row per (variant, frame), in time order."""
    mine = frames[frames["clip_id"] == clip_id].sort_values(["frame_idx", "variant", "copy"])
    if mine.empty:
        return []
    copies = mine.groupby(["variant", "frame_idx"]).size()
    first = mine.drop_duplicates(["variant", "frame_idx"], keep="first").reset_index(drop=True)
    out = []
    for i in evenly_spaced(len(first), n):
        r = first.iloc[i]
        out.append(
            SheetRow(
                clip_id=clip_id,
                variant=int(r["variant"]),
                frame_idx=int(r["frame_idx"]),
                timestamp_s=float(r["timestamp_s"]),
                label=None if pd.isna(r["label"]) else str(r["label"]),
                identity_ids=tuple(r["identity_ids"]),
                copies=int(copies[(r["variant"], r["frame_idx"])]),
                deid_distance_min=_number(r["deid_distance_min"]),
                landmark_error_max=_number(r["landmark_error_max"]),
            )
        )
    return out


def reject_kinds(rejects: pd.DataFrame) -> pd.Series:
    """Per reject row, the set of its reason kinds (``reason_kinds``; a row without any gets :data:`NO_REASON`)."""
    return rejects["reason_kinds"].map(lambda ks: sorted({str(k) for k in ks if k}) or [NO_REASON])


def reject_counts(rejects: pd.DataFrame) -> list[tuple[str, int]]:
    """Rejected rows per reason kind, most first (a row with several kinds counts under each)."""
    counts = Counter(k for ks in reject_kinds(rejects) for k in ks)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def reject_counts_by_clip(rejects: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Per clip, its rejected rows per reason kind, most first."""
    return {clip: dict(reject_counts(g)) for clip, g in rejects.groupby("clip_id", sort=True)}


def reject_samples(rejects: pd.DataFrame, n: int) -> dict[str, pd.DataFrame]:
    """Per reason kind (most frequent first), ``n`` of its rows spread evenly over clips and time."""
    if rejects.empty:
        return {}
    rows = rejects.assign(kinds=reject_kinds(rejects), copy_order=rejects["copy"].fillna(-1))
    rows = rows.sort_values(["clip_id", "variant", "frame_idx", "copy_order"]).reset_index(drop=True)
    out = {}
    for kind, _ in reject_counts(rejects):
        mine = rows[rows["kinds"].map(lambda ks, k=kind: k in ks)].reset_index(drop=True)
        out[kind] = mine.iloc[evenly_spaced(len(mine), n)].drop(columns=["kinds", "copy_order"])
    return out


def _face_shares(frames: pd.DataFrame, column: str, attributes: list[str], absent: str) -> dict[tuple[str, str], float]:
    """Share of the faces in published images per (attribute, category), from the per-identity maps in ``column``."""
    counts: Counter = Counter()
    totals: Counter = Counter()
    for r in frames[["image", "identity_ids", column]].itertuples(index=False):
        maps = getattr(r, column)
        if len(maps) != len(r.identity_ids):
            raise InputError(
                f"dataset_frames row {r.image}: {len(r.identity_ids)} identity_ids but {len(maps)} '{column}' maps (one per identity)"
            )
        for categories in maps:
            categories = dict(categories)
            for attribute in attributes:
                counts[(attribute, categories.get(attribute, absent))] += 1
                totals[attribute] += 1
    return {key: count / totals[key[0]] for key, count in counts.items()}


def shares(cast_metrics: dict, frames: pd.DataFrame) -> list[ShareRow]:
    """Per quota category (and any other category that was published): target, cast plan, published declared and measured."""
    categories = cast_metrics["categories"]
    attributes = list(dict.fromkeys(str(c["attribute"]) for c in categories))
    declared = _face_shares(frames, "declared", attributes, UNDECLARED)
    measured = _face_shares(frames, "measured", attributes, NOT_MEASURED)
    empty = 0.0 if len(frames) else None
    rows = [
        ShareRow(
            a, k, _number(c["target"]), _number(c["achieved"]), declared.get((a, k), empty), measured.get((a, k), empty)
        )
        for c in categories
        for a, k in [(str(c["attribute"]), str(c["category"]))]
    ]
    known = {(r.attribute, r.category) for r in rows}
    extra = sorted((set(declared) | set(measured)) - known)
    rows += [ShareRow(a, k, None, None, declared.get((a, k), 0.0), measured.get((a, k), 0.0)) for a, k in extra]
    return rows
