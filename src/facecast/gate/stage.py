"""Stage gate: every published face measured as de-identified and faithful; the rest rejected with reasons.

Reads ``clips``, ``faces``, ``tracks``, ``donor_tracks``, ``swaps`` (data/interim),
``identities`` (data/cast), the frames in data/swapped and, for the audit, the
original clips; writes ``data/interim/gates.parquet`` (one row per face per
frame per variant, and per frame without a face),
``data/interim/gate_clips.parquet`` (expression agreement per track and per
clip), ``metrics/gates.json`` and the plot data in ``plots/``. Each (clip,
variant), cut into segments of ``gate.segment_frames`` frames, is one task of
the executor (``gate.workers`` local processes or a Ray cluster), each worker
loading dlib and CenterFace once. Then the frames that passed are audited
(:mod:`facecast.gate.audit`), segment by segment again, and a frame with a face
region unchanged from the original is rejected.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from facecast import tables
from facecast.errors import InputError
from facecast.executor import run_all
from facecast.gate.audit import DETECTORS, Audited, AuditJob, audit_clip
from facecast.gate.expression import min_frames
from facecast.gate.measure import MEASURED, NOT_MEASURABLE, FaceRow, Measured, MeasureJob, measure_clip
from facecast.gate.plots import write_plots
from facecast.gate.verdicts import FrameKey, audit_reasons, clip_agreement, verdicts
from facecast.io.atomic import write_json
from facecast.metrics import check as check_metrics
from facecast.models.recognition import ReferenceGallery, gallery
from facecast.params import ExecutorParams, GateParams, Params


def _points(value) -> np.ndarray | None:
    return None if value is None else np.asarray(value, np.float64).reshape(68, 2)


def jobs(
    swaps: pd.DataFrame, faces: pd.DataFrame, ids: dict, gal: ReferenceGallery, swapped: Path, params: GateParams
) -> list[MeasureJob]:
    face_rows = {
        (r.clip_id, int(r.frame_idx), int(r.track_id)): r
        for r in faces[
            ["clip_id", "frame_idx", "track_id", "bbox_x0", "bbox_y0", "bbox_x1", "bbox_y1", "landmarks"]
        ].itertuples(index=False)
    }
    out = []
    length = segment_length(len(swaps[["clip_id", "variant", "frame_idx"]].drop_duplicates()), params)
    for (clip_id, variant), g in swaps.groupby(["clip_id", "variant"], sort=True):
        frames: dict[int, tuple[str | None, list[FaceRow]]] = {}
        digests: dict[int, str] = {}
        for r in g.itertuples(index=False):
            image = r.image if isinstance(r.image, str) else None
            track = None if pd.isna(r.track_id) else int(r.track_id)
            box, original = None, None
            if track is not None:
                f = face_rows.get((clip_id, int(r.frame_idx), track))
                if f is None:
                    raise InputError(
                        f"swaps.parquet names a face faces.parquet lacks ({clip_id} frame {r.frame_idx} track {track}); run swap again"
                    )
                box, original = ((f.bbox_x0, f.bbox_y0, f.bbox_x1, f.bbox_y1), _points(f.landmarks))
            identity = r.identity_id if isinstance(r.identity_id, str) else None
            measured = None
            if params.reuse_swap_measures and r.measured_descriptor is not None and r.measured_landmarks is not None:
                fitted = np.asarray(r.measured_landmarks, np.float64).reshape(68, 2)
                measured = (fitted, np.asarray(r.measured_descriptor, np.float64))
            row = FaceRow(track, identity, r.status, box, original, _points(r.landmarks), measured)
            frames.setdefault(int(r.frame_idx), (image, []))[1].append(row)
            if isinstance(r.image_sha256, str):
                digests[int(r.frame_idx)] = r.image_sha256
        for part in segments(sorted(frames), length):
            out.append(
                MeasureJob(
                    clip_id,
                    int(variant),
                    {f: frames[f] for f in part},
                    swapped,
                    gal,
                    ids,
                    params.leaks.detector_threshold,
                    {f: digests[f] for f in part if f in digests},
                )
            )
    return out


def segment_length(frames: int, params: GateParams) -> int:
    """Frames per task: ``gate.segment_frames``, or fewer when ``frames`` in all would not give each of
    ``gate.workers`` a task (one short clip on two cores)."""
    return max(1, min(params.segment_frames, -(-frames // params.workers)))


def segments(frames: list[int], size: int) -> list[list[int]]:
    """``frames`` (sorted) in runs of at most ``size``: one task each, so a long clip keeps every worker busy. A
    frame's measures depend on that frame alone, so the rows are the same however a clip is cut."""
    return [frames[i : i + size] for i in range(0, len(frames), size)]


def _quantiles(values) -> dict | None:
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], np.float64)
    if not len(v):
        return None
    return {
        "mean": round(float(v.mean()), 4),
        "median": round(float(np.median(v)), 4),
        "p5": round(float(np.percentile(v, 5)), 4),
        "p95": round(float(np.percentile(v, 95)), 4),
        "n": int(len(v)),
    }


def audit_jobs(rows: pd.DataFrame, clips: pd.DataFrame, swapped: Path, params: GateParams) -> list[AuditJob]:
    """Jobs per (clip, variant), one per segment of ``gate.segment_frames``, of the frames every row of which
    passed: the frames the audit scans."""
    if rows.empty:
        return []
    where = {r.clip_id: (str(r.path), str(r.kind)) for r in clips.itertuples(index=False)}
    ok = rows.groupby(["clip_id", "variant", "frame_idx"]).agg(
        passed=("status", lambda s: bool((s == "pass").all())), image=("image", "first")
    )
    out = []
    length = segment_length(int(ok["passed"].sum()), params)
    for (clip_id, variant), g in ok[ok["passed"]].reset_index().groupby(["clip_id", "variant"], sort=True):
        if clip_id not in where:
            raise InputError(f"clips.parquet lacks clip {clip_id} that swaps.parquet names; run ingest again")
        frames = {int(r.frame_idx): str(r.image) for r in g.itertuples(index=False) if isinstance(r.image, str)}
        path, kind = where[clip_id]
        for part in segments(sorted(frames), length):
            out.append(
                AuditJob(
                    clip_id,
                    int(variant),
                    path,
                    kind,
                    {f: frames[f] for f in part},
                    swapped,
                    tuple(params.audit.detectors),
                )
            )
    return out


def _audit_metrics(results: list[Audited], params: GateParams) -> dict:
    frames = [f for a in results for f in a.frames.values()]
    return {
        "detectors": [DETECTORS[d] for d in params.audit.detectors],
        "frames_scanned": len(frames),
        "regions": sum(f.regions for f in frames),
        "unchanged_regions": sum(f.unchanged for f in frames),
        "frames_with_unchanged": sum(1 for f in frames if f.unchanged),
        "unconfirmed_regions": sum(f.unconfirmed for f in frames),
        "frames_with_unconfirmed": sum(1 for f in frames if f.unconfirmed and not f.unchanged),
    }


def _metrics(rows: pd.DataFrame, clips: pd.DataFrame, extra: dict, wall: float) -> dict:
    faces = rows[rows["swap_status"].isin(["swapped", "obscured"])]
    swapped = rows[rows["swap_status"] == "swapped"]
    obscured = rows[rows["swap_status"] == "obscured"]
    frames = rows.groupby(["clip_id", "variant", "frame_idx"]).agg(
        status=("status", lambda s: "pass" if (s == "pass").all() else "reject"),
        leak=("leak_faces", lambda s: bool((s.fillna(0) > 0).any())),
        unchanged=("audit_unchanged", lambda s: bool((s.fillna(0) > 0).any())),
    )
    passed_frames = frames[frames["status"] == "pass"]
    reasons = Counter(str(kind) for kinds in rows["reason_kinds"] for kind in kinds)  # keys: gate.reasons' kinds
    ranks = swapped["reid_rank"].dropna()
    series = clips[(clips["feature"] == "mean") & clips["track_id"].notna()]
    means = series["pcc"].dropna()
    resembling = faces[faces["resembles_other"].fillna(False).astype(bool)]
    return {
        "faces": {
            "total": len(faces),
            "passed": int((faces["status"] == "pass").sum()),
            "pass_rate": round(float((faces["status"] == "pass").mean()), 4) if len(faces) else None,
        },
        "frames": {
            "total": len(frames),
            "passed": int((frames["status"] == "pass").sum()),
            "pass_rate": round(float((frames["status"] == "pass").mean()), 4) if len(frames) else None,
        },
        "obscured": {
            "total": len(obscured),
            "measured": int((obscured["deid_status"] == MEASURED).sum()),
            "nothing_measurable": int((obscured["deid_status"] == NOT_MEASURABLE).sum()),
            "passed": int((obscured["status"] == "pass").sum()),
        },
        "resembles_other": {
            "faces": len(resembling),
            "passed": int((resembling["status"] == "pass").sum()),
            "rejected_for_it": int(reasons.get("resembles_other", 0)),
            "nearest_other_distance": _quantiles(faces["nearest_other_distance"]),
        },
        "expression_series": {
            "total": len(series),
            "measured": int((series["status"] == "measured").sum()),
            "not_measurable": int((series["status"] == "not_measurable").sum()),
            "min_frames": extra["expression_min_frames"],
        },
        "landmark_series": extra["landmarks"],
        "audit": extra["audit"],
        "reject_reasons": dict(sorted(reasons.items())),
        "deid_distance": _quantiles(swapped["deid_distance"]),
        "identity_distance": _quantiles(swapped["identity_distance"]),
        "reid_rank1_rate": round(float((ranks == 1).mean()), 4) if len(ranks) else None,
        "landmark_error": _quantiles(swapped["landmark_error"]),
        "landmark_score": _quantiles(swapped["landmark_score"]),
        "expression_mean_pcc": round(float(means.mean()), 4) if len(means) else None,
        # frames published although the leak scan or the audit found something in them: 0 unless a check is broken
        "leaks_in_passed_frames": int((passed_frames["leak"] | passed_frames["unchanged"]).sum()),
        "wall_s": round(wall, 3),
        "frames_per_s": round(len(frames) / wall, 2) if wall > 0 else None,
    }


def gate(
    params: GateParams,
    interim: Path,
    cast_dir: Path,
    swapped: Path,
    metrics: Path,
    plots: Path,
    executor: ExecutorParams | None = None,
) -> dict:
    """Run the stage; returns the metrics it wrote. ``executor``: where each clip is measured (default: the local
    pool of ``params.workers`` processes)."""
    start = time.perf_counter()
    swaps = tables.read_df("swaps", interim)
    faces = tables.read_df("faces", interim)
    gal = gallery(tables.read_df("tracks", interim), tables.read_df("donor_tracks", interim))
    identities = tables.read_df("identities", cast_dir)
    ids = {
        r.identity_id: np.asarray(r.embedding, np.float64)
        for r in identities.itertuples(index=False)
        if r.embedding is not None
    }
    work = jobs(swaps, faces, ids, gal, swapped, params)
    results: list[Measured] = run_all(executor, params.workers, measure_clip, [(j,) for j in work], "gate", "clip")
    rows = pd.DataFrame([r for m in results for r in m.rows])
    leaks = {(j.clip_id, j.variant, f): v for j, m in zip(work, results) for f, v in m.leaks.items()}
    if rows.empty:
        rows = tables.empty("gates").to_pandas()
    clips = clip_agreement(rows, params.expression.min_pcc, params.expression.min_signal_px)
    rows, landmark_counts = verdicts(rows, leaks, clips, params)
    audits = audit_jobs(rows, tables.read_df("clips", interim), swapped, params)
    audited: list[Audited] = run_all(
        executor, params.workers, audit_clip, [(j,) for j in audits], "gate", "audit of clip"
    )
    unchanged: dict[FrameKey, int] = {
        (a.clip_id, a.variant, f): v.unchanged for a in audited for f, v in a.frames.items()
    }
    unconfirmed: dict[FrameKey, int] = {
        (a.clip_id, a.variant, f): v.unconfirmed for a in audited for f, v in a.frames.items()
    }
    rows = audit_reasons(rows, unchanged, unconfirmed)
    tables.write("gates", rows, interim)
    tables.write("gate_clips", clips, interim)
    clip_table = tables.read_df("gate_clips", interim)
    write_plots(rows, faces, gal, ids, swaps, plots)
    extra = {
        "expression_min_frames": min_frames(params.expression.min_pcc),
        "landmarks": landmark_counts,
        "audit": _audit_metrics(audited, params),
    }
    result = _metrics(rows, clip_table, extra, time.perf_counter() - start)
    write_json(metrics, check_metrics("gates", result))
    return result


SECTIONS = ("gate", "executor")  # the sections of params.yaml this stage reads (and seed)


def run(p: Params) -> dict:
    """The stage as ``dvc repro`` runs it: the project's own folders (:mod:`facecast.tables`)."""
    return gate(
        p.gate,
        interim=tables.INTERIM,
        cast_dir=tables.CAST,
        swapped=tables.SWAPPED,
        metrics=tables.METRICS / "gates.json",
        plots=tables.PLOTS,
        executor=p.executor,
    )
