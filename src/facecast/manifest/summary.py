"""The figures of the published dataset: ``metrics/dataset.json``, and what the dataset card prints.

Label shares are over images. Category shares are over appearances of cast
identities in images (an image with two identities counts once for each);
images in which no identity appears (no face, or every face obscured) are
counted under ``(no identity)``, an identity's attribute its face could not
be measured on under ``(not measured)``, one its donors did not declare under
``(not declared)``. A clip without a subject counts as a subject of its own.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from facecast.manifest.balance import Balance
from facecast.manifest.splits import Assignment, Group
from facecast.metrics import WHOLE_DATASET
from facecast.params import ManifestParams

UNLABELLED = "(unlabelled)"
NO_IDENTITY = "(no identity)"
NOT_MEASURED = "(not measured)"
NOT_DECLARED = "(not declared)"
UNKNOWN = (NO_IDENTITY, NOT_MEASURED, NOT_DECLARED)
ALL = WHOLE_DATASET


def _shares(counts: Counter) -> dict:
    total = sum(counts.values())
    return {k: {"count": int(n), "share": round(n / total, 4) if total else None} for k, n in sorted(counts.items())}


def _label(value) -> str:
    return value if isinstance(value, str) else UNLABELLED


def _labels(dataset: pd.DataFrame, frames: pd.DataFrame, splits: list[str]) -> dict:
    published = {ALL: _shares(Counter(_label(v) for v in dataset["label"]))}
    for split in splits:
        published[split] = _shares(Counter(_label(v) for v in dataset.loc[dataset["split"] == split, "label"]))
    return {"source_frames": _shares(Counter(_label(v) for v in frames["label"])), "published": published}


def _appearances(
    dataset: pd.DataFrame, column: str, attributes: list[str], missing: str
) -> dict[str, list[tuple[str, str]]]:
    """attribute -> (split, category) per appearance of an identity in an image."""
    out: dict[str, list[tuple[str, str]]] = {a: [] for a in attributes}
    for split, maps in zip(dataset["split"], dataset[column]):
        entries = [dict(m) for m in maps]
        for attribute in attributes:
            if not entries:
                out[attribute].append((split, NO_IDENTITY))
            for m in entries:
                out[attribute].append((split, m.get(attribute, missing)))
    return out


def _categories(dataset: pd.DataFrame, attributes: list[str], splits: list[str]) -> dict:
    out = {}
    for column, missing in (("declared", NOT_DECLARED), ("measured", NOT_MEASURED)):
        by_attribute = {}
        for attribute, pairs in _appearances(dataset, column, attributes, missing).items():
            by_attribute[attribute] = {ALL: _shares(Counter(c for _, c in pairs))}
            for split in splits:
                by_attribute[attribute][split] = _shares(Counter(c for s, c in pairs if s == split))
        out[column] = by_attribute
    return out


def _known_share(table: dict, category: str) -> float | None:
    """``category``'s share among the appearances whose category is known; None when none is."""
    known = sum(v["count"] for k, v in table.items() if k not in UNKNOWN)
    if not known:
        return None
    return round(table[category]["count"] / known, 4) if category in table else 0.0


def _demographics(categories: dict, cast_metrics: dict) -> list[dict]:
    """Target (cast.quotas) vs achieved: at casting (output frames), and in the published images, declared and measured."""
    targets = {(c["attribute"], c["category"]): c for c in cast_metrics["categories"]}
    keys = set(targets)
    for attribute, by_split in categories["declared"].items():
        keys |= {(attribute, c) for c in by_split[ALL] if c not in UNKNOWN}
    rows = []
    for attribute, category in sorted(keys):
        cast = targets.get((attribute, category), {})
        declared = categories["declared"].get(attribute, {}).get(ALL, {})
        measured = categories["measured"].get(attribute, {}).get(ALL, {})
        rows.append(
            {
                "attribute": attribute,
                "category": category,
                "target": cast.get("target"),
                "cast": cast.get("achieved"),
                "published_declared": _known_share(declared, category),
                "published_measured": _known_share(measured, category),
            }
        )
    return rows


def _quantiles(values) -> dict | None:
    v = np.asarray([x for x in values if x is not None and not pd.isna(x)], np.float64)
    if not len(v):
        return None
    return {
        "min": round(float(v.min()), 4),
        "median": round(float(np.median(v)), 4),
        "p95": round(float(np.percentile(v, 95)), 4),
        "max": round(float(v.max()), 4),
        "n": int(len(v)),
    }


def _quota(
    demographics: list[dict],
    balanced: Balance | None,
    casting: pd.DataFrame,
    cast_metrics: dict,
    params: ManifestParams,
) -> dict:
    """Target vs published per declared category, the largest gap that remains, and its causes."""
    rows = [r for r in demographics if r["target"] is not None]
    gaps = [abs(r["published_declared"] - r["target"]) for r in rows if r["published_declared"] is not None]
    measured = [abs(r["published_measured"] - r["target"]) for r in rows if r["published_measured"] is not None]
    largest = round(max(gaps, default=0.0), 4)
    causes = []
    if balanced is not None and balanced.unreached:
        causes.append(
            f"no published image of {', '.join(balanced.unreached)}: every frame of it was rejected, or none was cast "
            "(gallery shortfall or compatibility rules)"
        )
    planned = max((abs(c["achieved"] - c["target"]) for c in cast_metrics["categories"]), default=0.0)
    if planned > params.quota_tolerance:
        causes.append(
            f"the cast plan itself is {planned:.3f} off its targets (metrics/cast.json): the gallery has too few "
            "donors of a cell, or the tracks cannot be divided more finely"
        )
    blocked = int(casting["status"].isin(["no_compatible_identity", "uncastable"]).sum())
    if blocked:
        causes.append(
            f"{blocked} track variant(s) had no identity they may be played by (cast.match, a look-alike, their "
            "own donor): obscured, not counted"
        )
    if balanced is None and cast_metrics["balance_by"] != "published":
        causes.append(f"cast.balance_by is {cast_metrics['balance_by']}: gate rejects are not rebalanced")
    shares: dict[str, dict[str, dict]] = {}  # the same figures as a mapping: `dvc metrics diff` skips lists
    for r in rows:
        shares.setdefault(r["attribute"], {})[r["category"]] = {
            "target": r["target"],
            "published_declared": r["published_declared"],
            "published_measured": r["published_measured"],
        }
    return {
        "balance_by": "published" if balanced is not None else cast_metrics["balance_by"],
        "shares": shares,
        "tolerance": params.quota_tolerance,
        "largest_gap_declared": largest,
        "largest_gap_measured": round(max(measured, default=0.0), 4) if measured else None,
        "left_out_images": balanced.dropped if balanced is not None else 0,
        "cells": [
            {
                "cell": c,
                "target": t,
                "passing_appearances": balanced.before.get(c, 0),
                "published_appearances": balanced.after.get(c, 0),
            }
            for c, t in balanced.targets.items()
        ]
        if balanced is not None
        else [],
        "causes": causes if largest > params.quota_tolerance else [],
    }


def _quota_gap(images: pd.DataFrame, quotas: list[dict]) -> float | None:
    """The largest |published declared share - target| over the quota categories, in these images; None without
    quotas or images."""
    if not quotas or not len(images):
        return None
    gaps = []
    for attribute in {q["attribute"] for q in quotas}:
        found = Counter(dict(m).get(attribute) for maps in images["declared"] for m in maps)
        found.pop(None, None)
        total = sum(found.values())
        for q in quotas:
            if q["attribute"] == attribute:
                gaps.append(abs((found.get(q["category"], 0) / total if total else 0.0) - q["target"]))
    return round(max(gaps), 4)


def _splits(
    dataset: pd.DataFrame, groups: list[Group], assignment: Assignment, params: ManifestParams, quotas: list[dict]
) -> dict:
    per_split = {}
    subject = [s if isinstance(s, str) else f"clip:{c}" for s, c in zip(dataset["subject"], dataset["clip_id"])]
    keyed = dataset.assign(subject_key=subject)
    for name, target in params.splits.items():
        d = keyed[keyed["split"] == name]
        per_split[name] = {
            "target": target,
            "achieved": round(assignment.shares[name], 4),
            "gap": round(assignment.gaps[name], 4),
            "images": int(len(d)),
            "clips": int(d["clip_id"].nunique()),
            "subjects": int(d["subject_key"].nunique()),
            "identities": len({i for ids in d["identity_ids"] for i in ids}),
            "groups": sum(1 for s in assignment.splits if s == name),
            "quota_gap": _quota_gap(d, quotas),
        }
    empty = [n for n, t in params.splits.items() if t > 0 and per_split[n]["images"] == 0]
    off = [n for n, d in per_split.items() if d["quota_gap"] is not None and d["quota_gap"] > params.share_tolerance]
    largest = max((abs(g) for g in assignment.gaps.values()), default=0.0)
    met = bool(len(dataset)) and not empty and largest <= params.share_tolerance
    return {
        "method": assignment.method,
        "groups": len(groups),
        "subjects": int(keyed["subject_key"].nunique()),
        "share_tolerance": params.share_tolerance,
        "largest_gap": round(largest, 4),
        "met": met,
        "empty": empty,
        "quota_met": bool(len(dataset)) and not off and not empty,
        "quota_off": off,
        "largest_group_share": round(max((g.images for g in groups), default=0) / len(dataset), 4)
        if len(dataset)
        else None,
        "per_split": per_split,
    }


def summarise(
    *,
    dataset: pd.DataFrame,
    rejects: list[dict],
    verdicts: pd.DataFrame,
    frames: pd.DataFrame,
    clips: pd.DataFrame,
    augment: pd.DataFrame,
    ids: dict,
    casting: pd.DataFrame,
    groups: list[Group],
    assignment: Assignment,
    variants: list[int],
    params: ManifestParams,
    cast_metrics: dict,
    balanced: Balance | None = None,
) -> dict:
    splits = list(params.splits)
    attributes = sorted({a for info in ids.values() for a in info["declared"]})
    categories = _categories(dataset, attributes, splits)
    demographics = _demographics(categories, cast_metrics)
    reasons = Counter(str(kind) for r in rejects for kind in r["reason_kinds"])
    no_subject = sorted(clips.loc[clips["subject_id"].isna() & (clips["status"] == "ok"), "clip_id"])
    return {
        "frames": {
            "source": int(len(frames)),
            "variants": len(variants),
            "gated": int(len(verdicts)),
            "passed": int((verdicts["status"] == "pass").sum()),
            "rejected": int((verdicts["status"] == "reject").sum()),
        },
        "candidates": {
            "total": int(len(augment)),
            "ok": int((augment["status"] == "ok").sum()),
            "skipped": int((augment["status"] == "skipped").sum()),
            "augmented_copies_per_frame": int(augment["copy"].max()) if len(augment) else 0,
        },
        "images": {
            "published": int(len(dataset)),
            "by_split": {s: int((dataset["split"] == s).sum()) for s in splits},
            "by_copy": {str(c): int(n) for c, n in dataset["copy"].value_counts().sort_index().items()},
            "flipped": int(dataset["flipped"].sum()),
        },
        "rejects": {
            "rows": len(rejects),
            "by_stage": dict(sorted(Counter(r["stage"] for r in rejects).items())),
            "by_reason": dict(sorted(reasons.items())),
        },
        "splits": _splits(dataset, groups, assignment, params, cast_metrics["categories"]),
        "labels": _labels(dataset, frames, splits),
        "categories": categories,
        "demographics": demographics,
        "quota": _quota(demographics, balanced, casting, cast_metrics, params),
        "published_gate": {
            "deid_distance_min": _quantiles(dataset["deid_distance_min"]),
            "identity_distance_max": _quantiles(dataset["identity_distance_max"]),
            "landmark_error_max": _quantiles(dataset["landmark_error_max"]),
        },
        "clips": {
            "total": int(len(clips)),
            "ok": int((clips["status"] == "ok").sum()),
            "without_subject": len(no_subject),
            "published": int(dataset["clip_id"].nunique()),
        },
        "identities": {"cast": len(ids), "published": len({i for row in dataset["identity_ids"] for i in row})},
        "identity_images": dict(sorted(Counter(i for row in dataset["identity_ids"] for i in row).items())),
        "tracks_uncastable": int((casting["status"] == "uncastable").sum()),
    }
