"""Which images are published, and why every other one is not.

A frame (clip, variant, frame) is published only when gate passed every one
of its rows (each face, or the frame's single no-face row). ``augment`` lists
the candidates of the passing frames (copy 0, the swapped frame itself, and
its augmented copies); a copy augment skipped is not published either. Both
kinds of absence become rows of ``dataset_rejects`` with their reasons, each a
kind and a detail as gate and augment gave them (:mod:`facecast.manifest.reasons`).

Gate's verdict is checked again here, independently of augment: an augment
row for a frame gate did not pass, or built from another image than the one
gate measured, stops the stage rather than publishing an unverified image.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from facecast.errors import InputError
from facecast.manifest.reasons import AUGMENT_WITHOUT_REASON, GATE_WITHOUT_REASON
from facecast.tables import Reason

FRAME = ["clip_id", "variant", "frame_idx"]
CANDIDATE = ["clip_id", "variant", "copy", "frame_idx"]
RERUN = "run augment again"


def reject_order(r: dict) -> tuple:
    """The order of ``dataset_rejects`` rows: clip, variant, frame, then the frame's own row before its copies'."""
    return (r["clip_id"], r["variant"], r["frame_idx"], -1 if r["copy"] is None else r["copy"])


def _name(key: tuple) -> str:
    clip_id, variant, frame_idx = key[0], key[1], key[-1]
    copy = f" copy {key[2]}" if len(key) == 4 else ""
    return f"{clip_id} v{variant}{copy} frame {frame_idx}"


def _few(keys: list[tuple]) -> str:
    shown = ", ".join(_name(k) for k in keys[:3])
    what = "frame(s)" if keys and len(keys[0]) == 3 else "candidate(s)"
    return f"{len(keys)} {what}, e.g. {shown}"


def _nan_reduce(values: list, fn) -> float | None:
    v = np.asarray([x for x in values if x is not None and not pd.isna(x)], np.float64)
    return float(fn(v)) if len(v) else None


def _gate_reasons(row) -> list[Reason]:
    """A gates row's reasons, its parallel ``reason_kinds`` and ``reason_details``."""
    return [
        Reason(str(k), d if isinstance(d, str) else None)
        for k, d in zip(row.reason_kinds, row.reason_details, strict=True)
    ]


def _augment_reason(row) -> Reason:
    """A skipped augment row's reason (:data:`AUGMENT_WITHOUT_REASON` when it gives none)."""
    if not isinstance(row.reason_kind, str) or not row.reason_kind:
        return AUGMENT_WITHOUT_REASON
    return Reason(row.reason_kind, row.reason_detail if isinstance(row.reason_detail, str) else None)


def _reason_columns(reasons: list[Reason]) -> dict:
    """``reason_kinds`` and ``reason_details``, in parallel."""
    return {"reason_kinds": [r.kind for r in reasons], "reason_details": [r.detail for r in reasons]}


def frame_verdicts(gates: pd.DataFrame) -> pd.DataFrame:
    """One row per gated frame: pass only when all its rows pass; every distinct reason (``reason_kinds`` and
    ``reason_details``, in parallel); the gate figures of its faces."""
    acc: dict[tuple, dict] = {}
    for r in gates.itertuples(index=False):
        key = (r.clip_id, int(r.variant), int(r.frame_idx))
        f = acc.setdefault(
            key,
            {
                "passed": True,
                "reasons": [],
                "images": set(),
                "identities": set(),
                "deid": [],
                "identity": [],
                "landmark": [],
            },
        )
        f["passed"] &= r.status == "pass"
        f["reasons"].extend(x for x in _gate_reasons(r) if x not in f["reasons"])
        if isinstance(r.image, str):
            f["images"].add(r.image)
        if isinstance(r.identity_id, str):
            f["identities"].add(r.identity_id)
        f["deid"].append(r.deid_distance)
        f["identity"].append(r.identity_distance)
        f["landmark"].append(r.landmark_error)
    rows = []
    for key, f in sorted(acc.items()):
        if len(f["images"]) > 1:
            raise InputError(
                f"gates.parquet gives {_name(key)} more than one image ({', '.join(sorted(f['images']))}); run gate again"
            )
        if not f["passed"] and not f["reasons"]:
            f["reasons"] = [GATE_WITHOUT_REASON]
        rows.append(
            {
                "clip_id": key[0],
                "variant": key[1],
                "frame_idx": key[2],
                "status": "pass" if f["passed"] else "reject",
                **_reason_columns(f["reasons"] if not f["passed"] else []),
                "gated_image": next(iter(f["images"]), None),
                "identity_ids": sorted(f["identities"]),
                "deid_distance_min": _nan_reduce(f["deid"], np.min),
                "identity_distance_max": _nan_reduce(f["identity"], np.max),
                "landmark_error_max": _nan_reduce(f["landmark"], np.max),
            }
        )
    columns = [
        *FRAME,
        "status",
        "reason_kinds",
        "reason_details",
        "gated_image",
        "identity_ids",
        "deid_distance_min",
        "identity_distance_max",
        "landmark_error_max",
    ]
    return pd.DataFrame(rows, columns=columns)


def _check_augment(augment: pd.DataFrame, verdicts: pd.DataFrame) -> None:
    bad_status = augment[~augment["status"].isin(["ok", "skipped"])]
    if len(bad_status):
        keys = list(bad_status[CANDIDATE].itertuples(index=False, name=None))
        raise InputError(
            f"augment.parquet: status must be ok or skipped; {_few(keys)} hold {sorted(set(bad_status['status']))}"
        )
    twice = augment[augment.duplicated(CANDIDATE, keep=False)]
    if len(twice):
        raise InputError(
            f"augment.parquet lists a candidate twice: {_few(list(twice[CANDIDATE].drop_duplicates().itertuples(index=False, name=None)))}; {RERUN}"
        )
    passed = verdicts[verdicts["status"] == "pass"]
    status = dict(zip(verdicts[FRAME].itertuples(index=False, name=None), verdicts["status"]))
    frames = augment[FRAME].itertuples(index=False, name=None)
    unverified = sorted({k for k in frames if status.get(k) != "pass"})
    if unverified:
        raise InputError(
            f"augment.parquet holds frames gate did not pass (or never measured): {_few(unverified)}; "
            f"they cannot be published, {RERUN}"
        )
    originals = set(augment.loc[augment["copy"] == 0, FRAME].itertuples(index=False, name=None))
    missing = [k for k in passed[FRAME].itertuples(index=False, name=None) if k not in originals]
    if missing:
        raise InputError(f"augment.parquet lacks the copy 0 row of frames that passed gate: {_few(missing)}; {RERUN}")
    gated = dict(zip(passed[FRAME].itertuples(index=False, name=None), passed["gated_image"]))
    other = [
        k
        for k, source in zip(augment[CANDIDATE].itertuples(index=False, name=None), augment["source_image"])
        if gated[(k[0], k[1], k[3])] != source
    ]
    if other:
        raise InputError(f"augment.parquet: source_image is not the image gate measured for {_few(other)}; {RERUN}")
    no_image = augment[(augment["status"] == "ok") & (augment["copy"] > 0) & augment["image"].isna()]
    if len(no_image):
        raise InputError(
            f"augment.parquet: augmented copies with status ok but no image: {_few(list(no_image[CANDIDATE].itertuples(index=False, name=None)))}; {RERUN}"
        )


def select(verdicts: pd.DataFrame, augment: pd.DataFrame) -> tuple[pd.DataFrame, list[dict]]:
    """The published candidates (augment's ok rows with their frame's gate figures), and the ``dataset_rejects`` rows."""
    _check_augment(augment, verdicts)
    rejects = [
        {
            "clip_id": r.clip_id,
            "variant": int(r.variant),
            "copy": None,
            "frame_idx": int(r.frame_idx),
            "stage": "gate",
            "reason_kinds": list(r.reason_kinds),
            "reason_details": list(r.reason_details),
        }
        for r in verdicts[verdicts["status"] == "reject"].itertuples(index=False)
    ]
    for r in augment[augment["status"] == "skipped"].itertuples(index=False):
        rejects.append(
            {
                "clip_id": r.clip_id,
                "variant": int(r.variant),
                "copy": int(r.copy),
                "frame_idx": int(r.frame_idx),
                "stage": "augment",
                **_reason_columns([_augment_reason(r)]),
            }
        )
    rejects.sort(key=reject_order)
    figures = verdicts[[*FRAME, "identity_ids", "deid_distance_min", "identity_distance_max", "landmark_error_max"]]
    published = augment[augment["status"] == "ok"].merge(figures, on=FRAME, how="left", validate="many_to_one")
    return published.sort_values(CANDIDATE, kind="stable").reset_index(drop=True), rejects
