"""The verdict: which measured faces pass into the dataset, and every reason the others do not.

A face row passes only when every gate below passes; each one that fails adds
its reason, a kind (:class:`facecast.reasons.GateReason`, named below) and a
detail, so a reject says everything that was wrong. A frame is published only
when every row of it passes.

* ``deid``: the face's distance to its OWN original's centroid is below
  ``gate.deid.min_distance``. A swapped face that could not be measured is
  rejected (a render nobody verified is not published); an obscured face in
  whose region dlib finds no face passes, with ``deid_status``
  ``not_measurable`` recorded: nothing recognisable is left.
* ``reid``: the true original is the nearest of all original and donor
  centroids to the output face (rank 1).
* ``identity``: farther than ``gate.identity.max_distance`` from the cast
  identity (only when that is set).
* ``landmarks``: a swapped face whose landmark error is above the cap
  ``gate.landmarks.max_error``, or above the ``gate.landmarks.percentile`` of
  its own track's errors in that clip and variant. The percentile is taken per
  track, over time: it asks whether this frame is an outlier of this face's
  render, and only the same face (its size, pose range, donor) is a fair
  reference; pooled over a frame's people, a small or turned face's ordinary
  errors would be read as outliers of the others'. It needs at least
  ``ceil(100 / (100 - percentile))`` frames (20 at 95): on a shorter series
  its worst frame always lies above the percentile, and rejecting it would
  reject more than ``100 - percentile`` % of a perfect series. Shorter series
  are judged by the cap alone (counted in the metrics).
* ``expression``: per (clip, variant, track), the mean correlation of the
  face's expression series, original vs swapped, is below
  ``gate.expression.min_pcc``; that track's faces are rejected. A series too
  short to judge (:func:`facecast.gate.expression.min_frames`) or constant,
  or whose features all move by less than ``gate.expression.min_signal_px``
  on the original face, is ``not_measurable`` in ``gate_clips`` and rejects
  nothing by itself.
* ``leak``: a face of the frame is recognisably its own original person (it
  failed ``deid`` with a distance, or ``reid``), or the independent detector
  found a face that matches no face row; the whole frame is rejected.
* ``resembles_other``: a face of the frame lies within
  ``gate.deid.min_distance`` of ANOTHER original track's centroid. Always
  recorded (``resembles_other``, ``nearest_other_distance``); a reject of the
  whole frame only with ``gate.leaks.reject_resembling_others``, because
  different real people lie that close to each other (most faces of diverse
  footage have someone within 0.6).
* ``audit``: added by the stage after these verdicts (:func:`audit_reasons`):
  a detector the gate does not decide with found a face region of a passed
  frame unchanged from the original.
* ``dropped``: swap did not write the frame.

A frame with no face passes when the leak scan and the audit find none.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from facecast.gate.expression import FEATURES, MEASURED, MIN_SIGNAL_PX, NOT_MEASURABLE, agreement, min_frames
from facecast.gate.fidelity import percentile_pass
from facecast.gate.measure import FrameLeaks
from facecast.params import GateParams
from facecast.reasons import GateReason
from facecast.tables import Reason

FrameKey = tuple[str, int, int]  # (clip_id, variant, frame_idx)


def _series_rows(clip_id: str, variant: int, track: int | None, result: list[dict]) -> list[dict]:
    return [{"clip_id": clip_id, "variant": int(variant), "track_id": track, **r} for r in result]


def _clip_mean(clip_id: str, variant: int, tracks: list[list[dict]]) -> list[dict]:
    """The clip's rows: per feature, the mean over its tracks' measured values; frames summed."""
    out = []
    for j, name in enumerate([*FEATURES, "mean"]):
        rows = [t[j] for t in tracks]
        pccs = [r["pcc"] for r in rows if r["pcc"] is not None]
        rmses = [r["rmse"] for r in rows if r["rmse"] is not None]
        out.append(
            {
                "clip_id": clip_id,
                "variant": int(variant),
                "track_id": None,
                "feature": name,
                "pcc": float(np.mean(pccs)) if pccs else None,
                "rmse": float(np.mean(rmses)) if rmses else None,
                "frames": int(sum(r["frames"] for r in rows)),
                "signal_px": None,
                "status": MEASURED if pccs else NOT_MEASURABLE,
            }
        )
    return out


def clip_agreement(rows: pd.DataFrame, min_pcc: float, min_signal_px: float = MIN_SIGNAL_PX) -> list[dict]:
    """``gate_clips`` rows: per (clip, variant, track), each feature's PCC and RMSE over that face's frames and
    their mean (features whose original moves less than ``min_signal_px`` left out: not measurable); then per
    (clip, variant) the mean over its tracks (``track_id`` null)."""
    out = []
    need = min_frames(min_pcc)
    swapped = rows[(rows["swap_status"] == "swapped") & rows["track_id"].notna()]
    for (clip_id, variant), clip in swapped.groupby(["clip_id", "variant"], sort=True):
        tracks = []
        for track, g in clip.groupby("track_id", sort=True):
            g = g.sort_values("frame_idx")
            original = g[[f"original_{f}" for f in FEATURES]].to_numpy(np.float64)
            measured = g[[f"swapped_{f}" for f in FEATURES]].to_numpy(np.float64)
            scales = np.array(
                [np.full(len(FEATURES), np.nan) if v is None else np.asarray(v, np.float64) for v in g["expression_px"]]
            ).reshape(len(g), len(FEATURES))
            result = agreement(original, measured, need, scales, min_signal_px)
            tracks.append(result)
            out.extend(_series_rows(clip_id, variant, int(track), result))
        out.extend(_clip_mean(clip_id, variant, tracks))
    return out


def _fmt(value: float) -> str:
    return f"{value:.3f}"


def _face_reasons(r, params: GateParams) -> list[Reason]:
    threshold = params.deid.min_distance
    out = []
    if pd.isna(r.deid_distance):
        if r.swap_status == "swapped":
            out.append(Reason(GateReason.DEID, "not measurable (no original centroid or no face to embed)"))
    elif r.deid_distance < threshold:
        out.append(Reason(GateReason.DEID, f"distance {_fmt(r.deid_distance)} to the original, below {threshold:g}"))
    if not pd.isna(r.reid_rank) and r.reid_rank == 1:
        out.append(Reason(GateReason.REID, "the original is the nearest of all originals and donors"))
    limit = params.identity.max_distance
    if limit is not None and not pd.isna(r.identity_distance) and r.identity_distance > limit:
        out.append(
            Reason(GateReason.IDENTITY, f"distance {_fmt(r.identity_distance)} to the cast identity, above {limit:g}")
        )
    return out


def landmark_min_frames(percentile: float) -> int | None:
    """The fewest frames a track needs for its percentile to reject anything; None when it never does (100)."""
    return None if percentile >= 100.0 else math.ceil(100.0 / (100.0 - percentile) - 1e-9)


def _landmark_reasons(rows: pd.DataFrame, params: GateParams, reasons: list[list[Reason]]) -> dict[str, int]:
    """Adds the ``landmarks`` reasons; returns how many track series the percentile judged and how many were
    too short for it."""
    need = landmark_min_frames(params.landmarks.percentile)
    cap = params.landmarks.max_error
    counted = {"series": 0, "percentile_applied": 0, "percentile_not_measurable": 0}
    swapped = rows[(rows["swap_status"] == "swapped") & rows["track_id"].notna()]
    for _, index in swapped.groupby(["clip_id", "variant", "track_id"]).groups.items():
        values = rows.loc[index, "landmark_error"].to_numpy(np.float64)
        finite = values[np.isfinite(values)]
        counted["series"] += 1
        relative = need is not None and len(finite) >= need
        counted["percentile_applied" if relative else "percentile_not_measurable"] += 1
        ok = percentile_pass(values, params.landmarks.percentile if relative else 100.0, cap)
        cut = float(np.percentile(finite, params.landmarks.percentile)) if relative else float("nan")
        for i, value, passed in zip(index, values, ok):
            if passed:
                continue
            if not np.isfinite(value):
                reasons[i].append(Reason(GateReason.LANDMARKS, "not measurable"))
            elif value > cap:
                reasons[i].append(Reason(GateReason.LANDMARKS, f"error {_fmt(value)} above the cap {cap:g}"))
            else:
                reasons[i].append(
                    Reason(
                        GateReason.LANDMARKS,
                        f"error {_fmt(value)} above its track's {params.landmarks.percentile:g}th percentile "
                        f"{_fmt(cut)} in this clip",
                    )
                )
    return counted


def verdicts(
    rows: pd.DataFrame, leaks: dict[FrameKey, FrameLeaks], clips: list[dict], params: GateParams
) -> tuple[pd.DataFrame, dict[str, int]]:
    """``rows`` with ``resembles_other``, ``status``, ``reason_kinds`` and ``reason_details`` added; and the
    landmark percentile's counts (:func:`_landmark_reasons`)."""
    rows = rows.reset_index(drop=True)
    reasons: list[list[Reason]] = [[] for _ in range(len(rows))]
    threshold = params.deid.min_distance
    face = rows["swap_status"].isin(["swapped", "obscured"]).to_numpy()
    for i, r in enumerate(rows.itertuples(index=False)):
        if r.swap_status == "dropped":
            reasons[i].append(Reason(GateReason.DROPPED, "swap did not write this frame"))
        elif face[i]:
            reasons[i].extend(_face_reasons(r, params))

    landmark_counts = _landmark_reasons(rows, params, reasons)

    # expression: per track series
    weak = {
        (c["clip_id"], c["variant"], c["track_id"]): c["pcc"]
        for c in clips
        if c["feature"] == "mean"
        and c["track_id"] is not None
        and c["pcc"] is not None
        and c["pcc"] < params.expression.min_pcc
    }
    for i, r in enumerate(rows.itertuples(index=False)):
        if r.swap_status != "swapped" or pd.isna(r.track_id):
            continue
        pcc = weak.get((r.clip_id, int(r.variant), int(r.track_id)))
        if pcc is not None:
            reasons[i].append(
                Reason(
                    GateReason.EXPRESSION,
                    f"this face's mean expression PCC {_fmt(pcc)} in the clip below {params.expression.min_pcc:g}",
                )
            )

    # leaks and resemblance: whole frames
    own = [
        any(k in (GateReason.DEID, GateReason.REID) for k in (x.kind for x in rs)) and not pd.isna(r.deid_distance)
        for rs, r in zip(reasons, rows.itertuples(index=False))
    ]
    rows["resembles_other"] = [
        None if pd.isna(d) else bool(d < threshold) for d in rows["nearest_other_distance"].to_numpy(np.float64)
    ]
    keys = list(zip(rows["clip_id"], rows["variant"].astype(int), rows["frame_idx"].astype(int)))
    recognised: dict[FrameKey, int] = {}
    resembling: dict[FrameKey, float] = {}
    for key, is_own, other in zip(keys, own, rows["nearest_other_distance"].to_numpy(np.float64)):
        if is_own:
            recognised[key] = recognised.get(key, 0) + 1
        if np.isfinite(other) and other < threshold:
            resembling[key] = min(other, resembling.get(key, np.inf))
    for i, key in enumerate(keys):
        found = leaks.get(key)
        if found is not None and found.count:
            detail = f"{found.count} face(s) the detector found match no face row"
            if found.nearest_distance is not None:
                detail += f", the nearest original person at {_fmt(found.nearest_distance)}"
            reasons[i].append(Reason(GateReason.LEAK, detail))
        if key in recognised:
            reasons[i].append(
                Reason(
                    GateReason.LEAK,
                    f"{recognised[key]} face(s) of this frame recognisably their own original person "
                    f"(distance below {threshold:g} or rank 1)",
                )
            )
        if params.leaks.reject_resembling_others and key in resembling:
            reasons[i].append(
                Reason(
                    GateReason.RESEMBLES_OTHER,
                    f"a face of this frame is {_fmt(resembling[key])} from another original person, below {threshold:g}",
                )
            )

    rows["reason_kinds"] = [[r.kind for r in rs] for rs in reasons]
    rows["reason_details"] = [[r.detail for r in rs] for rs in reasons]
    rows["status"] = ["reject" if r else "pass" for r in reasons]
    return rows, landmark_counts


def audit_reasons(
    rows: pd.DataFrame, unchanged: dict[FrameKey, int], unconfirmed: dict[FrameKey, int] | None = None
) -> pd.DataFrame:
    """``rows`` with ``audit_unchanged`` (and ``audit_unconfirmed``: unchanged regions no second look calls a
    face) set on the audited frames, and an ``audit`` reason (and status reject) on every row of a frame the audit
    found an unchanged face region in."""
    rows = rows.copy()
    keys = list(zip(rows["clip_id"], rows["variant"].astype(int), rows["frame_idx"].astype(int)))
    rows["audit_unchanged"] = [unchanged.get(k) for k in keys]
    rows["audit_unconfirmed"] = [(unconfirmed or {}).get(k) for k in keys]
    kinds, details, status = [], [], []
    for key, ks, ds, st in zip(keys, rows["reason_kinds"], rows["reason_details"], rows["status"]):
        n = unchanged.get(key)
        if n:
            ks = [*ks, GateReason.AUDIT]
            ds = [*ds, f"{n} face region(s) the audit's detectors found are unchanged from the original frame"]
            st = "reject"
        kinds.append(list(ks))
        details.append(list(ds))
        status.append(st)
    rows["reason_kinds"], rows["reason_details"], rows["status"] = kinds, details, status
    return rows
