"""The verdict: which measured faces pass into the dataset, and every reason the others do not.

A face row passes only when every gate below passes; each one that fails adds
its reason, a kind (:class:`facecast.gate.reasons.GateReason`, named below)
and a detail, so a reject says everything that was wrong.

* ``deid``: the face's distance to its own original's centroid is below
  ``gate.deid.min_distance``, or it could not be measured at all (a face that
  cannot be verified is not published).
* ``reid``: the true original is the nearest of all original and donor
  centroids to the output face (rank 1).
* ``identity``: farther than ``gate.identity.max_distance`` from the cast
  identity (only when that is set).
* ``landmarks``: a swapped face whose landmark error is above its clip's
  ``gate.landmarks.percentile`` or above ``gate.landmarks.max_error``.
* ``expression``: the clip's mean expression correlation (original vs
  swapped) is below ``gate.expression.min_pcc``; the whole clip is rejected.
* ``leak``: the independent detector found a face in the frame that matches
  no face row, or some face of the frame is nearer than
  ``gate.deid.min_distance`` to the centroid of any original track of the
  run (anyone in the footage, not only the person it replaced); the whole
  frame is rejected.
* ``dropped``: swap did not write the frame.

A frame with no face passes when the leak scan finds none.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from facecast.gate.expression import FEATURES, agreement
from facecast.gate.fidelity import percentile_pass
from facecast.gate.measure import FrameLeaks
from facecast.params import GateParams
from facecast.reasons import GateReason
from facecast.tables import Reason


def clip_agreement(rows: pd.DataFrame) -> list[dict]:
    """``gate_clips`` rows: per (clip, variant), each feature's PCC and RMSE over the swapped faces, and their mean."""
    out = []
    swapped = rows[rows["swap_status"] == "swapped"]
    for (clip_id, variant), g in swapped.groupby(["clip_id", "variant"], sort=True):
        g = g.sort_values(["track_id", "frame_idx"])
        original = g[[f"original_{f}" for f in FEATURES]].to_numpy(np.float64)
        measured = g[[f"swapped_{f}" for f in FEATURES]].to_numpy(np.float64)
        for r in agreement(original, measured):
            out.append({"clip_id": clip_id, "variant": int(variant), **r})
    return out


def _fmt(value: float) -> str:
    return f"{value:.3f}"


def verdicts(
    rows: pd.DataFrame, leaks: dict[tuple[str, int, int], FrameLeaks], clips: list[dict], params: GateParams
) -> pd.DataFrame:
    """``rows`` with ``status``, ``reason_kinds`` and ``reason_details`` added."""
    rows = rows.reset_index(drop=True)
    reasons: list[list[Reason]] = [[] for _ in range(len(rows))]
    threshold = params.deid.min_distance
    face = rows["swap_status"].isin(["swapped", "obscured"]).to_numpy()
    for i, r in enumerate(rows.itertuples(index=False)):
        if r.swap_status == "dropped":
            reasons[i].append(Reason(GateReason.DROPPED, "swap did not write this frame"))
            continue
        if not face[i]:
            continue
        if pd.isna(r.deid_distance):
            reasons[i].append(Reason(GateReason.DEID, "not measurable (no original centroid or no face to embed)"))
        elif r.deid_distance < threshold:
            reasons[i].append(
                Reason(GateReason.DEID, f"distance {_fmt(r.deid_distance)} to the original, below {threshold:g}")
            )
        if not pd.isna(r.reid_rank) and r.reid_rank == 1:
            reasons[i].append(Reason(GateReason.REID, "the original is the nearest of all originals and donors"))
        limit = params.identity.max_distance
        if limit is not None and not pd.isna(r.identity_distance) and r.identity_distance > limit:
            reasons[i].append(
                Reason(
                    GateReason.IDENTITY, f"distance {_fmt(r.identity_distance)} to the cast identity, above {limit:g}"
                )
            )

    # landmarks: per (clip, variant), over its swapped faces
    swapped = rows["swap_status"] == "swapped"
    for _, index in rows[swapped].groupby(["clip_id", "variant"]).groups.items():
        values = rows.loc[index, "landmark_error"].to_numpy(np.float64)
        ok = percentile_pass(values, params.landmarks.percentile, params.landmarks.max_error)
        finite = values[np.isfinite(values)]
        cut = float(np.percentile(finite, params.landmarks.percentile)) if len(finite) else float("nan")
        for i, value, passed in zip(index, values, ok):
            if passed:
                continue
            if not np.isfinite(value):
                reasons[i].append(Reason(GateReason.LANDMARKS, "not measurable"))
            elif value > params.landmarks.max_error:
                reasons[i].append(
                    Reason(GateReason.LANDMARKS, f"error {_fmt(value)} above the cap {params.landmarks.max_error:g}")
                )
            else:
                reasons[i].append(
                    Reason(
                        GateReason.LANDMARKS,
                        f"error {_fmt(value)} above the clip's {params.landmarks.percentile:g}th percentile {_fmt(cut)}",
                    )
                )

    # expression: whole clips
    weak = {
        (c["clip_id"], c["variant"]): c["pcc"]
        for c in clips
        if c["feature"] == "mean" and c["pcc"] is not None and c["pcc"] < params.expression.min_pcc
    }
    for i, r in enumerate(rows.itertuples(index=False)):
        pcc = weak.get((r.clip_id, int(r.variant)))
        if pcc is not None:
            reasons[i].append(
                Reason(GateReason.EXPRESSION, f"clip mean PCC {_fmt(pcc)} below {params.expression.min_pcc:g}")
            )

    # leaks: whole frames
    near = rows.groupby(["clip_id", "variant", "frame_idx"])["nearest_original_distance"].min()
    for i, r in enumerate(rows.itertuples(index=False)):
        key = (r.clip_id, int(r.variant), int(r.frame_idx))
        found = leaks.get(key)
        if found is not None and found.count:
            detail = f"{found.count} face(s) the detector found match no face row"
            if found.nearest_distance is not None:
                detail += f", nearest original {found.nearest_name} at {_fmt(found.nearest_distance)}"
            reasons[i].append(Reason(GateReason.LEAK, detail))
        closest = near.get(key)
        if closest is not None and not pd.isna(closest) and closest < threshold:
            reasons[i].append(
                Reason(
                    GateReason.LEAK, f"a face of this frame is {_fmt(closest)} from an original, below {threshold:g}"
                )
            )

    rows["reason_kinds"] = [[r.kind for r in rs] for rs in reasons]
    rows["reason_details"] = [[r.detail for r in rs] for rs in reasons]
    rows["status"] = ["reject" if r else "pass" for r in reasons]
    return rows
