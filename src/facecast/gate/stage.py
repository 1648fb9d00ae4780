"""Stage gate: every published face measured as de-identified and faithful; the rest rejected with reasons.

Reads ``faces``, ``tracks``, ``donor_tracks``, ``swaps`` (data/interim),
``identities`` (data/cast) and the frames in data/swapped; writes
``data/interim/gates.parquet`` (one row per face per frame per variant, and
per frame without a face), ``data/interim/gate_clips.parquet`` (expression
agreement per clip), ``metrics/gates.json`` and the plot data in ``plots/``.
The (clip, variant) pairs are measured in ``gate.workers`` processes, each
loading dlib and CenterFace once; embeddings are the expensive part.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from facecast import tables
from facecast.errors import InputError
from facecast.executor import collect, process_pool
from facecast.gate.measure import FaceRow, Measured, MeasureJob, ReferenceGallery, measure_clip
from facecast.gate.plots import write_plots
from facecast.gate.verdicts import clip_agreement, verdicts
from facecast.io.atomic import write_json
from facecast.metrics import check as check_metrics
from facecast.params import GateParams, Params


def gallery(tracks: pd.DataFrame, donors: pd.DataFrame) -> ReferenceGallery:
    names: list[str] = []
    embeddings: list[np.ndarray] = []
    index: dict = {}
    for r in tracks.itertuples(index=False):
        if r.embedding_centroid is not None:
            index[(r.clip_id, int(r.track_id))] = len(names)
            names.append(f"track {r.clip_id} {int(r.track_id)}")
            embeddings.append(np.asarray(r.embedding_centroid, np.float64))
    n_tracks = len(names)
    for r in donors.itertuples(index=False):
        if r.embedding_centroid is not None:
            names.append(f"donor {r.donor_id}")
            embeddings.append(np.asarray(r.embedding_centroid, np.float64))
    if not embeddings:
        raise InputError("no original track or donor has an embedding: nothing to measure de-identification against")
    return ReferenceGallery(names, np.stack(embeddings), index, n_tracks)


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
    for (clip_id, variant), g in swaps.groupby(["clip_id", "variant"], sort=True):
        frames: dict[int, tuple[str | None, list[FaceRow]]] = {}
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
            row = FaceRow(track, identity, r.status, box, original, _points(r.landmarks))
            frames.setdefault(int(r.frame_idx), (image, []))[1].append(row)
        out.append(MeasureJob(clip_id, int(variant), frames, swapped, gal, ids, params.leaks.detector_threshold))
    return out


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


def _metrics(rows: pd.DataFrame, clips: pd.DataFrame, wall: float) -> dict:
    faces = rows[rows["swap_status"].isin(["swapped", "obscured"])]
    swapped = rows[rows["swap_status"] == "swapped"]
    frames = rows.groupby(["clip_id", "variant", "frame_idx"])["status"].agg(
        lambda s: "pass" if (s == "pass").all() else "reject"
    )
    passed = rows[rows["status"] == "pass"]
    reasons = Counter(str(kind) for kinds in rows["reason_kinds"] for kind in kinds)  # keys: gate.reasons' kinds
    ranks = swapped["reid_rank"].dropna()
    means = clips[clips["feature"] == "mean"]["pcc"].dropna()
    return {
        "faces": {
            "total": len(faces),
            "passed": int((faces["status"] == "pass").sum()),
            "pass_rate": round(float((faces["status"] == "pass").mean()), 4) if len(faces) else None,
        },
        "frames": {
            "total": len(frames),
            "passed": int((frames == "pass").sum()),
            "pass_rate": round(float((frames == "pass").mean()), 4) if len(frames) else None,
        },
        "reject_reasons": dict(sorted(reasons.items())),
        "deid_distance": _quantiles(swapped["deid_distance"]),
        "identity_distance": _quantiles(swapped["identity_distance"]),
        "reid_rank1_rate": round(float((ranks == 1).mean()), 4) if len(ranks) else None,
        "landmark_error": _quantiles(swapped["landmark_error"]),
        "landmark_score": _quantiles(swapped["landmark_score"]),
        "expression_mean_pcc": round(float(means.mean()), 4) if len(means) else None,
        "leaks_in_passed_frames": int((passed["leak_faces"].fillna(0) > 0).sum()),
        "wall_s": round(wall, 3),
        "frames_per_s": round(len(frames) / wall, 2) if wall > 0 else None,
    }


def gate(params: GateParams, interim: Path, cast_dir: Path, swapped: Path, metrics: Path, plots: Path) -> dict:
    """Run the stage; returns the metrics it wrote."""
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
    with process_pool(min(params.workers, max(1, len(work)))) as pool:
        if pool is None:
            results: list[Measured] = [measure_clip(j) for j in work]
        else:
            results = collect([pool.submit(measure_clip, j) for j in work], "gate", "clip")
    rows = pd.DataFrame([r for m in results for r in m.rows])
    leaks = {(j.clip_id, j.variant, f): v for j, m in zip(work, results) for f, v in m.leaks.items()}
    if rows.empty:
        rows = tables.empty("gates").to_pandas()
    clips = clip_agreement(rows)
    rows = verdicts(rows, leaks, clips, params)
    tables.write("gates", rows, interim)
    tables.write("gate_clips", clips, interim)
    clip_table = tables.read_df("gate_clips", interim)
    write_plots(rows, faces, gal, ids, swaps, plots)
    result = _metrics(rows, clip_table, time.perf_counter() - start)
    write_json(metrics, check_metrics("gates", result))
    return result


SECTIONS = ("gate",)  # the sections of params.yaml this stage reads (and seed)


def run(p: Params) -> dict:
    """The stage as ``dvc repro`` runs it: the project's own folders (:mod:`facecast.tables`)."""
    return gate(
        p.gate,
        interim=tables.INTERIM,
        cast_dir=tables.CAST,
        swapped=tables.SWAPPED,
        metrics=tables.METRICS / "gates.json",
        plots=tables.PLOTS,
    )
